//! Structured schemas per branch and database, in the shape of the API's `format=json` answer
//! (`BranchSchemaJSON`, the same in the 2.7.3 spec and `@neon/sdk` 6.1.2), the SQL DDL made
//! from them, and the unified diff `compare_schema` answers. Children inherit their parent's
//! schema, snapshots capture it, restores copy it; changing one is a write (the LSN moves).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::State;

/// A branch's schemas: database name → tables (sorted by schema, then name).
pub type Schemas = BTreeMap<String, Vec<Table>>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub schema: String,
    pub name: String,
    pub columns: Vec<Column>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<Constraint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub nullable: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub generated: bool,
}

/// `primary_key`, `unique` or `foreign_key` (with `referenced_table`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraint {
    #[serde(rename = "type")]
    pub kind: String,
    pub columns: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referenced_table: Option<ReferencedTable>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferencedTable {
    pub schema: String,
    pub table: String,
    pub columns: Vec<String>,
}

impl Table {
    /// A table without constraints; columns as `(name, type, nullable)`.
    pub fn new(schema: &str, name: &str, columns: &[(&str, &str, bool)]) -> Table {
        Table {
            schema: schema.into(),
            name: name.into(),
            columns: columns
                .iter()
                .map(|(n, t, nullable)| Column {
                    name: (*n).into(),
                    kind: (*t).into(),
                    nullable: *nullable,
                    generated: false,
                })
                .collect(),
            constraints: Vec::new(),
        }
    }

    /// Adds a constraint (named as Postgres would when `name` is `None`).
    pub fn with(
        mut self,
        kind: &str,
        columns: &[&str],
        references: Option<(&str, &str, &[&str])>,
    ) -> Table {
        self.constraints.push(Constraint {
            kind: kind.into(),
            columns: columns.iter().map(|c| (*c).into()).collect(),
            name: None,
            referenced_table: references.map(|(schema, table, cols)| ReferencedTable {
                schema: schema.into(),
                table: table.into(),
                columns: cols.iter().map(|c| (*c).into()).collect(),
            }),
        });
        self
    }

    /// `CREATE TABLE …;` as pg_dump prints it, constraints inline, in declared order.
    fn ddl(&self) -> String {
        let mut lines: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                let mut l = format!("    {} {}", c.name, c.kind);
                if c.generated {
                    l.push_str(" GENERATED ALWAYS AS (...) STORED");
                }
                if !c.nullable {
                    l.push_str(" NOT NULL");
                }
                l
            })
            .collect();
        lines.extend(
            self.constraints
                .iter()
                .map(|k| format!("    {}", self.constraint_ddl(k))),
        );
        format!(
            "CREATE TABLE {}.{} (\n{}\n);\n",
            self.schema,
            self.name,
            lines.join(",\n")
        )
    }

    fn constraint_ddl(&self, k: &Constraint) -> String {
        let cols = k.columns.join(", ");
        let (suffix, body) = match (k.kind.as_str(), &k.referenced_table) {
            ("primary_key", _) => ("pkey".to_string(), format!("PRIMARY KEY ({cols})")),
            ("foreign_key", Some(r)) => (
                format!("{}_fkey", k.columns.join("_")),
                format!(
                    "FOREIGN KEY ({cols}) REFERENCES {}.{}({})",
                    r.schema,
                    r.table,
                    r.columns.join(", ")
                ),
            ),
            (other, _) => (
                format!("{}_key", k.columns.join("_")),
                format!("{} ({cols})", other.replace('_', " ").to_uppercase()),
            ),
        };
        let name = k
            .name
            .clone()
            .unwrap_or_else(|| format!("{}_{suffix}", self.name));
        format!("CONSTRAINT {name} {body}")
    }
}

/// The SQL schema of `tables`: one `CREATE TABLE` per table, in (schema, name) order,
/// separated by blank lines. Deterministic, so equal schemas give equal text.
pub fn sql(tables: &[Table]) -> String {
    let mut sorted: Vec<&Table> = tables.iter().collect();
    sorted.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
    sorted
        .iter()
        .map(|t| t.ddl())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A unified diff (3 lines of context) from `base` to `new`, headed `--- base_label` /
/// `+++ new_label`; empty when the SQL is the same. Made with the `similar` crate (a
/// well-kept, dependency-free diff library already in the workspace's lock file) rather than
/// a hand-written LCS, so hunks and context follow the usual unified format exactly.
pub fn unified_diff(base: &str, new: &str, base_label: &str, new_label: &str) -> String {
    similar::TextDiff::from_lines(base, new)
        .unified_diff()
        .context_radius(3)
        .header(base_label, new_label)
        .to_string()
}

/// What the default seed gives `production`'s `neondb`: two tables, so diffs show something.
pub fn demo_tables() -> Vec<Table> {
    vec![
        Table::new(
            "public",
            "orders",
            &[
                ("id", "bigint", false),
                ("user_id", "bigint", false),
                ("total_cents", "bigint", false),
                ("note", "text", true),
            ],
        )
        .with("primary_key", &["id"], None)
        .with(
            "foreign_key",
            &["user_id"],
            Some(("public", "users", &["id"])),
        ),
        Table::new(
            "public",
            "users",
            &[
                ("id", "bigint", false),
                ("email", "text", false),
                ("created_at", "timestamp with time zone", false),
            ],
        )
        .with("primary_key", &["id"], None)
        .with("unique", &["email"], None),
    ]
}

impl State {
    /// The tables of database `db` on a branch (by id or name); empty for a database with no
    /// tables, `None` for no such branch.
    pub fn schema_of(&self, name_or_id: &str, db: &str) -> Option<&[Table]> {
        let b = self.find_branch(name_or_id)?;
        Some(b.schemas.get(db).map(Vec::as_slice).unwrap_or(&[]))
    }

    /// Replaces the tables of database `db` on a branch (by id or name): a write, so the
    /// branch's LSN advances. `false` when there is no such branch.
    pub fn set_schema(&mut self, name_or_id: &str, db: &str, mut tables: Vec<Table>) -> bool {
        let Some(id) = self.find_branch(name_or_id).map(|b| b.id.clone()) else {
            return false;
        };
        tables.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
        self.write_branch(&id, |b| {
            b.schemas.insert(db.to_string(), tables);
        });
        true
    }
}

#[cfg(test)]
mod tests;
