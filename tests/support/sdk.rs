//! Neon's current API as its own TypeScript SDK declares it (`@neon/sdk`, SPEC §3 and
//! NOTES.md): which function calls which route (`dist/client/sdk.gen.js`), and what each
//! request and answer type declares (`dist/client/types.gen.d.ts`), read with a small parser of
//! the type syntax the generator emits: object literals, `&`, `|`, `Array<…>`, references,
//! literals, `T[keyof T]`. The package is fetched by `npm pack` and checksum-verified (see
//! `npm.rs`), never committed (Apache-2.0).
//!
//! Include it as `support::sdk` (it reaches the download helper as `super::npm`).
#![allow(dead_code)] // each test binary uses a different part

use std::collections::HashMap;
use std::sync::OnceLock;

/// The npm package, its version and the tarball's sha256 (NOTES.md).
pub const PACKAGE: (&str, &str, &str) = (
    "@neon/sdk",
    "6.1.2",
    "e80560aa9c09b280d5d6d92a58f720306f55791bcf687aeff2cb12c80d077f81",
);

/// A type expression of the `.d.ts`.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    /// `{ name?: T; … }`; index signatures are left out.
    Object(Vec<Field>),
    And(Vec<Ty>),
    Or(Vec<Ty>),
    Array(Box<Ty>),
    /// A named type, resolved through the declarations.
    Ref(String),
    /// A primitive, a literal, or anything else without fields.
    Leaf(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub optional: bool,
    pub ty: Ty,
}

/// One function of the SDK: its name, HTTP method (upper case) and path template.
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    pub name: String,
    pub method: String,
    pub url: String,
}

pub struct Sdk {
    pub types: HashMap<String, Ty>,
    pub functions: Vec<Function>,
}

/// The pinned SDK, downloaded, verified and parsed once per test binary.
pub fn pinned() -> &'static Sdk {
    static SDK: OnceLock<Sdk> = OnceLock::new();
    SDK.get_or_init(|| {
        let (name, version, sha256) = PACKAGE;
        let dir = super::npm::package(name, version, sha256).join("dist/client");
        let read = |file: &str| {
            std::fs::read_to_string(dir.join(file))
                .unwrap_or_else(|e| panic!("read {file} of {name}@{version}: {e}"))
        };
        let sdk = Sdk {
            types: declarations(&read("types.gen.d.ts")),
            functions: functions(&read("sdk.gen.js")),
        };
        // A parser that silently read nothing would let every check below pass.
        assert!(
            sdk.types.len() > 500,
            "types.gen.d.ts: {} types",
            sdk.types.len()
        );
        assert!(
            sdk.functions.len() > 100,
            "sdk.gen.js: {} functions",
            sdk.functions.len()
        );
        sdk
    })
}

impl Sdk {
    /// The function that sends `method` to `url` (a path template, `{param}` as the SDK names it).
    pub fn function(&self, method: &str, url: &str) -> Option<&Function> {
        self.functions
            .iter()
            .find(|f| f.method.eq_ignore_ascii_case(method) && f.url == url)
    }

    /// A function's request type (`<Name>Data`: `body`, `path`, `query`, `url`).
    pub fn data(&self, f: &Function) -> &Ty {
        let name = format!("{}Data", pascal(&f.name));
        self.types
            .get(&name)
            .unwrap_or_else(|| panic!("no type {name}"))
    }

    /// A function's success answer (`<Name>Responses`, its 2xx member), if it declares one.
    pub fn success(&self, f: &Function) -> Option<&Ty> {
        let Ty::Object(fields) = self.types.get(&format!("{}Responses", pascal(&f.name)))? else {
            return None;
        };
        fields
            .iter()
            .find(|m| m.name.starts_with('2'))
            .map(|m| &m.ty)
    }

    /// The type at `path` in `ty`: dot-separated field names, `[]` steps into an array
    /// (`branches[].id`); `None` when some step is not declared. Through `&` and `|`, the
    /// first part that declares a step wins.
    pub fn at<'a>(&'a self, ty: &'a Ty, path: &str) -> Option<&'a Ty> {
        let mut steps = Vec::new();
        for part in path.split('.').filter(|p| !p.is_empty()) {
            let (name, arrays) = split_arrays(part);
            steps.push(Step::Field(name));
            steps.extend(std::iter::repeat_n(Step::Items, arrays));
        }
        self.walk(ty, &steps)
    }

    fn walk<'a>(&'a self, ty: &'a Ty, steps: &[Step<'_>]) -> Option<&'a Ty> {
        let Some((step, rest)) = steps.split_first() else {
            return Some(ty);
        };
        match (ty, step) {
            (Ty::Ref(name), _) => self.walk(self.types.get(name)?, steps),
            (Ty::And(parts) | Ty::Or(parts), _) => parts.iter().find_map(|p| self.walk(p, steps)),
            (Ty::Object(fields), Step::Field(name)) => {
                let field = fields.iter().find(|f| f.name == *name)?;
                self.walk(&field.ty, rest)
            }
            (Ty::Array(item), Step::Items) => self.walk(item, rest),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Step<'a> {
    Field(&'a str),
    Items,
}

/// `branches[]` → (`branches`, 1).
fn split_arrays(part: &str) -> (&str, usize) {
    let mut name = part;
    let mut arrays = 0;
    while let Some(rest) = name.strip_suffix("[]") {
        name = rest;
        arrays += 1;
    }
    (name, arrays)
}

/// `getNeonAuth` → `GetNeonAuth`.
fn pascal(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// `const <name> = (options) => (options?.client ?? client).<method>({ … url: "<url>", …`
pub fn functions(js: &str) -> Vec<Function> {
    let mut out = Vec::new();
    for chunk in js.split("\nconst ").skip(1) {
        let Some((name, rest)) = chunk.split_once(" = (options) => (options") else {
            continue;
        };
        let Some(method) = rest
            .split_once("client).")
            .and_then(|(_, r)| r.split_once("({"))
            .map(|(m, _)| m.to_ascii_uppercase())
        else {
            continue;
        };
        let Some(url) = rest
            .split_once("url: \"")
            .and_then(|(_, r)| r.split_once('"'))
            .map(|(u, _)| u.to_string())
        else {
            continue;
        };
        out.push(Function {
            name: name.to_string(),
            method,
            url,
        });
    }
    out
}

/// Every `export type Name = <type>;` of the file.
pub fn declarations(ts: &str) -> HashMap<String, Ty> {
    let tokens = tokenize(ts);
    let mut p = Parser { tokens, at: 0 };
    let mut types = HashMap::new();
    while p.at < p.tokens.len() {
        if p.peek() == "export" && p.peek_at(1) == "type" {
            p.at += 2;
            let name = p.next().to_string();
            p.expect("=");
            let ty = p.union();
            p.expect(";");
            types.insert(name, ty);
        } else {
            p.at += 1;
        }
    }
    types
}

/// Identifiers, numbers, quoted strings (kept with their quotes) and single punctuation;
/// comments dropped.
fn tokenize(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '\'' || c == '"' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            tokens.push(chars[start..i.min(chars.len())].iter().collect());
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else {
            tokens.push(c.to_string());
            i += 1;
        }
    }
    tokens
}

struct Parser {
    tokens: Vec<String>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> &str {
        self.peek_at(0)
    }

    fn peek_at(&self, n: usize) -> &str {
        self.tokens.get(self.at + n).map_or("", String::as_str)
    }

    fn next(&mut self) -> &str {
        self.at += 1;
        self.tokens.get(self.at - 1).map_or("", String::as_str)
    }

    fn expect(&mut self, token: &str) {
        let at = self.at;
        let found = self.next().to_string();
        assert_eq!(found, token, "types.gen.d.ts: token {at}");
    }

    /// `A | B | …` (a leading `|` allowed).
    fn union(&mut self) -> Ty {
        if self.peek() == "|" {
            self.at += 1;
        }
        let mut parts = vec![self.intersection()];
        while self.peek() == "|" {
            self.at += 1;
            parts.push(self.intersection());
        }
        if parts.len() == 1 {
            parts.remove(0)
        } else {
            Ty::Or(parts)
        }
    }

    fn intersection(&mut self) -> Ty {
        let mut parts = vec![self.postfix()];
        while self.peek() == "&" {
            self.at += 1;
            parts.push(self.postfix());
        }
        if parts.len() == 1 {
            parts.remove(0)
        } else {
            Ty::And(parts)
        }
    }

    /// A primary type, then `[]` (an array) or `[K]` (an indexed access: no fields).
    fn postfix(&mut self) -> Ty {
        let mut ty = self.primary();
        while self.peek() == "[" {
            self.at += 1;
            if self.peek() == "]" {
                self.at += 1;
                ty = Ty::Array(Box::new(ty));
            } else {
                if self.peek() == "keyof" {
                    self.at += 1;
                }
                self.union();
                self.expect("]");
                ty = Ty::Leaf("indexed".into());
            }
        }
        ty
    }

    fn primary(&mut self) -> Ty {
        match self.next().to_string().as_str() {
            "{" => self.object(),
            "(" => {
                let ty = self.union();
                self.expect(")");
                ty
            }
            "-" => Ty::Leaf(format!("-{}", self.next())),
            name if name.starts_with(['\'', '"'])
                || name.starts_with(|c: char| c.is_ascii_digit()) =>
            {
                Ty::Leaf(name.to_string())
            }
            name => {
                let name = name.to_string();
                if self.peek() != "<" {
                    return match name.as_str() {
                        "string" | "number" | "boolean" | "null" | "unknown" | "never"
                        | "undefined" | "true" | "false" | "any" => Ty::Leaf(name),
                        _ => Ty::Ref(name),
                    };
                }
                self.at += 1;
                let mut args = vec![self.union()];
                while self.peek() == "," {
                    self.at += 1;
                    args.push(self.union());
                }
                self.expect(">");
                match name.as_str() {
                    "Array" => Ty::Array(Box::new(args.remove(0))),
                    _ => Ty::Leaf(name),
                }
            }
        }
    }

    /// After `{`: members up to `}`.
    fn object(&mut self) -> Ty {
        let mut fields = Vec::new();
        while self.peek() != "}" {
            if self.peek() == "[" {
                // `[key: string]: T`: no named field.
                while self.next() != "]" {}
                self.expect(":");
                self.union();
            } else {
                let name = self.next().trim_matches(['\'', '"']).to_string();
                let optional = self.peek() == "?";
                if optional {
                    self.at += 1;
                }
                self.expect(":");
                let ty = self.union();
                fields.push(Field { name, optional, ty });
            }
            if matches!(self.peek(), ";" | ",") {
                self.at += 1;
            }
        }
        self.expect("}");
        Ty::Object(fields)
    }
}
