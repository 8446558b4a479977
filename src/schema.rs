//! What going from one schema to another changes, classified from Neon's structured schemas
//! (`GET …/schema?format=json`). Destructive: a dropped table, a dropped column, a changed
//! column type. May fail on existing rows: a new NOT NULL column without a default, a column
//! becoming NOT NULL. Everything else is additive. The unified SQL diff Neon gives
//! (`compare_schema`) is for people; the only thing read from it is whether a new column's
//! definition carries a DEFAULT (the structured form does not say). Pure functions, no I/O.

use std::collections::BTreeMap;
use std::fmt;

use crate::neon::{SchemaColumn, SchemaTable};

/// One change from the old schema (prod, or dev for a preview) to the new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    DroppedTable {
        table: String,
    },
    DroppedColumn {
        table: String,
        column: String,
    },
    ChangedType {
        table: String,
        column: String,
        from: String,
        to: String,
    },
    /// A NOT NULL column without a default: fails if the table has rows.
    NewRequiredColumn {
        table: String,
        column: String,
    },
    BecameNotNull {
        table: String,
        column: String,
    },
    AddedTable {
        table: String,
    },
    AddedColumn {
        table: String,
        column: String,
    },
    /// Any other column change (nullability relaxed, generated or not).
    AlteredColumn {
        table: String,
        column: String,
    },
}

/// How much a change matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Additive,
    MayFail,
    Destructive,
}

impl Change {
    pub fn severity(&self) -> Severity {
        match self {
            Self::DroppedTable { .. } | Self::DroppedColumn { .. } | Self::ChangedType { .. } => {
                Severity::Destructive
            }
            Self::NewRequiredColumn { .. } | Self::BecameNotNull { .. } => Severity::MayFail,
            _ => Severity::Additive,
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DroppedTable { table } => write!(f, "drops table {table}"),
            Self::DroppedColumn { table, column } => write!(f, "drops column {table}.{column}"),
            Self::ChangedType {
                table,
                column,
                from,
                to,
            } => write!(
                f,
                "changes the type of {table}.{column} from {from} to {to}"
            ),
            Self::NewRequiredColumn { table, column } => write!(
                f,
                "adds NOT NULL column {table}.{column} without a default (fails if {table} has rows)"
            ),
            Self::BecameNotNull { table, column } => write!(
                f,
                "makes {table}.{column} NOT NULL (fails if a row holds NULL)"
            ),
            Self::AddedTable { table } => write!(f, "adds table {table}"),
            Self::AddedColumn { table, column } => write!(f, "adds column {table}.{column}"),
            Self::AlteredColumn { table, column } => write!(f, "alters column {table}.{column}"),
        }
    }
}

/// A schema comparison: the classified changes and Neon's unified SQL diff.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SchemaDiff {
    /// The database compared.
    pub database: String,
    pub changes: Vec<Change>,
    /// Unified diff of the SQL schemas, as Neon gives it.
    pub diff: String,
}

impl SchemaDiff {
    pub fn changed(&self) -> bool {
        !self.changes.is_empty() || !self.diff.trim().is_empty()
    }

    /// The `destructive_changes` output: a dropped table counts once (not once per column), a
    /// dropped column and a changed type once each.
    pub fn destructive(&self) -> Vec<&Change> {
        self.changes
            .iter()
            .filter(|c| c.severity() == Severity::Destructive)
            .collect()
    }

    pub fn may_fail(&self) -> Vec<&Change> {
        self.changes
            .iter()
            .filter(|c| c.severity() == Severity::MayFail)
            .collect()
    }
}

/// The changes from `old` to `new`, destructive first, then in table and column order.
pub fn classify(old: &[SchemaTable], new: &[SchemaTable], sql_diff: &str) -> Vec<Change> {
    let index = |tables: &[SchemaTable]| -> BTreeMap<String, BTreeMap<String, SchemaColumn>> {
        tables
            .iter()
            .map(|t| {
                let columns = t
                    .columns
                    .iter()
                    .map(|c| (c.name.clone(), c.clone()))
                    .collect();
                (format!("{}.{}", t.schema, t.name), columns)
            })
            .collect()
    };
    let (old, new) = (index(old), index(new));
    let mut changes = Vec::new();
    for (table, old_cols) in &old {
        let Some(new_cols) = new.get(table) else {
            changes.push(Change::DroppedTable {
                table: table.clone(),
            });
            continue;
        };
        let named = |column: &str| (table.clone(), column.to_string());
        for (column, was) in old_cols {
            let (table, column) = named(column);
            match new_cols.get(&column) {
                None => changes.push(Change::DroppedColumn { table, column }),
                Some(now) if now.data_type != was.data_type => changes.push(Change::ChangedType {
                    table,
                    column,
                    from: was.data_type.clone(),
                    to: now.data_type.clone(),
                }),
                Some(now) if was.nullable() && !now.nullable() => {
                    changes.push(Change::BecameNotNull { table, column })
                }
                Some(now) if now != was => changes.push(Change::AlteredColumn { table, column }),
                Some(_) => {}
            }
        }
        for (column, now) in new_cols.iter().filter(|(c, _)| !old_cols.contains_key(*c)) {
            let (table, column) = named(column);
            if !now.nullable() && !now.generated && !has_default(sql_diff, &column) {
                changes.push(Change::NewRequiredColumn { table, column });
            } else {
                changes.push(Change::AddedColumn { table, column });
            }
        }
    }
    for table in new.keys().filter(|t| !old.contains_key(*t)) {
        changes.push(Change::AddedTable {
            table: table.clone(),
        });
    }
    changes.sort_by_key(|c| std::cmp::Reverse(c.severity()));
    changes
}

/// Whether an added line of the SQL diff defines `column` with a DEFAULT.
fn has_default(sql_diff: &str, column: &str) -> bool {
    sql_diff.lines().any(|line| {
        let Some(added) = line.strip_prefix('+') else {
            return false;
        };
        let mut words = added.split_whitespace();
        let first = words.next().map(|w| w.trim_matches('"'));
        first == Some(column) && added.to_ascii_uppercase().contains(" DEFAULT ")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, columns: &[(&str, &str, bool)]) -> SchemaTable {
        SchemaTable {
            schema: "public".into(),
            name: name.into(),
            columns: columns
                .iter()
                .map(|(n, t, nullable)| SchemaColumn {
                    name: n.to_string(),
                    data_type: t.to_string(),
                    nullable: Some(*nullable),
                    generated: false,
                })
                .collect(),
        }
    }

    #[test]
    fn each_kind_of_change_is_classified() {
        let old = vec![
            table(
                "users",
                &[
                    ("id", "bigint", false),
                    ("email", "text", true),
                    ("age", "integer", true),
                    ("nick", "text", true),
                ],
            ),
            table("legacy", &[("id", "bigint", false), ("x", "text", true)]),
        ];
        let new = vec![
            table(
                "users",
                &[
                    ("id", "bigint", false),
                    ("email", "text", false),
                    ("age", "bigint", true),
                    ("plan", "text", false),
                    ("note", "text", true),
                    ("tier", "text", false),
                ],
            ),
            table("orders", &[("id", "bigint", false)]),
        ];
        let sql =
            "@@ -1 +1 @@\n+    tier text NOT NULL DEFAULT 'free',\n+    plan text NOT NULL,\n";
        let changes = classify(&old, &new, sql);
        let text: Vec<String> = changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "drops table public.legacy",
                "changes the type of public.users.age from integer to bigint",
                "drops column public.users.nick",
                "makes public.users.email NOT NULL (fails if a row holds NULL)",
                "adds NOT NULL column public.users.plan without a default (fails if public.users has rows)",
                "adds column public.users.note",
                "adds column public.users.tier",
                "adds table public.orders",
            ]
        );
        let diff = SchemaDiff {
            database: "neondb".into(),
            changes,
            diff: sql.into(),
        };
        // A dropped table counts once, not once per column.
        assert_eq!(diff.destructive().len(), 3);
        assert_eq!(diff.may_fail().len(), 2);
        assert!(diff.changed());
    }

    #[test]
    fn the_same_schema_changes_nothing() {
        let s = vec![table("users", &[("id", "bigint", false)])];
        assert!(classify(&s, &s, "").is_empty());
        assert!(!SchemaDiff::default().changed());
    }
}
