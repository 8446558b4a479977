//! The pinned Neon OpenAPI spec as a validator: finds the operation for a concrete request,
//! turns its OpenAPI 3.0 schemas into JSON Schema (draft 7) and checks requests and responses
//! with the `jsonschema` crate. Everything is local: `$ref`s point into one document that
//! holds every converted component schema, so nothing is ever fetched.
//!
//! Include it with `#[path = "support/spec.rs"] mod spec;` next to
//! `#[path = "support/npm.rs"] mod npm;` (or as `support::spec`): it reaches the download
//! helper as `super::npm`.
#![allow(dead_code)] // each test binary uses a different part

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::{Draft, Validator};
use serde_json::{Map, Value, json};

/// The npm package that carries the spec, its version and the tarball's sha256 (SPEC.md §3).
pub const PACKAGE: (&str, &str, &str) = (
    "@neondatabase/api-client",
    "2.7.3",
    "28368170b48c30a77b1413782f8dcfee02535f4088fdd084bb259bf994568558",
);
/// The spec's file inside the package.
pub const FILE: &str = "public-v2-for-users.gen.yaml";
/// Our base path: concrete paths may carry it, the spec's templates do not.
pub const BASE: &str = "/api/v2";

/// The pinned spec, downloaded (`npm pack`), checksum-verified and parsed once per test binary.
pub fn pinned() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let (name, version, sha256) = PACKAGE;
        let dir = super::npm::package(name, version, sha256);
        let text = std::fs::read_to_string(dir.join(FILE))
            .unwrap_or_else(|e| panic!("read {FILE} from {name}@{version}: {e}"));
        Spec::from_yaml(&text)
    })
}

/// One operation of the spec, found for a concrete path.
#[derive(Debug, Clone)]
pub struct Operation<'a> {
    /// The path template, e.g. `/projects/{project_id}/branches/{branch_id}`.
    pub template: &'a str,
    pub operation_id: &'a str,
    /// Path parameters by name, from the concrete path.
    pub path_params: Vec<(&'a str, String)>,
    op: &'a Value,
    path_item: &'a Value,
}

/// A loaded spec: the raw OpenAPI document plus every component schema as JSON Schema.
pub struct Spec {
    raw: Value,
    /// `components.schemas`, converted; referenced as `#/definitions/<name>`.
    definitions: Value,
    validators: Mutex<HashMap<String, Arc<Validator>>>,
}

impl Spec {
    pub fn from_yaml(text: &str) -> Spec {
        let raw: Value = serde_yaml::from_str(text).expect("the OpenAPI spec is not valid YAML");
        let schemas = raw["components"]["schemas"]
            .as_object()
            .expect("spec without components.schemas");
        let definitions = Value::Object(
            schemas
                .iter()
                .map(|(k, v)| (k.clone(), convert(v)))
                .collect(),
        );
        Spec {
            raw,
            definitions,
            validators: Mutex::new(HashMap::new()),
        }
    }

    pub fn version(&self) -> &str {
        self.raw["info"]["version"].as_str().unwrap_or("?")
    }

    /// The operation for `method` on a concrete path (with or without `/api/v2`). Literal
    /// segments win over parameters (`/branches/count` before `/branches/{branch_id}`).
    pub fn operation(&self, method: &str, path: &str) -> Option<Operation<'_>> {
        let path = path.strip_prefix(BASE).unwrap_or(path);
        let path = path.split('?').next().unwrap_or(path);
        let concrete: Vec<&str> = path.trim_matches('/').split('/').collect();
        let method = method.to_ascii_lowercase();
        let mut best: Option<(usize, Operation<'_>)> = None;
        for (template, item) in self.raw["paths"].as_object()? {
            let Some(op) = item.get(&method) else {
                continue;
            };
            let segs: Vec<&str> = template.trim_matches('/').split('/').collect();
            if segs.len() != concrete.len() {
                continue;
            }
            let mut literals = 0;
            let mut params = Vec::new();
            let matched = segs.iter().zip(&concrete).all(|(t, c)| {
                if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                    params.push((name, percent_decode(c)));
                    !c.is_empty()
                } else {
                    literals += 1;
                    t == c
                }
            });
            if matched && best.as_ref().is_none_or(|(n, _)| literals > *n) {
                let operation_id = op["operationId"].as_str().unwrap_or("?");
                best = Some((
                    literals,
                    Operation {
                        template,
                        operation_id,
                        path_params: params,
                        op,
                        path_item: item,
                    },
                ));
            }
        }
        best.map(|(_, op)| op)
    }

    /// Problems with a response: an undocumented status, a body where none is documented (or
    /// none where one is), or a body that breaks the schema. Empty means it conforms.
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: Option<&Value>,
    ) -> Vec<String> {
        let Some(op) = self.operation(method, path) else {
            return vec![format!("{method} {path}: no such operation in the spec")];
        };
        let responses = &op.op["responses"];
        let exact = responses
            .get(status.to_string())
            .or_else(|| responses.get(format!("{}XX", status / 100)));
        // `default` describes the errors; a success the operation does not list is a finding.
        let Some(resp) = exact.or_else(|| responses.get("default").filter(|_| status >= 400))
        else {
            return vec![format!(
                "status {status} is not documented for {} (documented: {})",
                op.operation_id,
                keys(responses)
            )];
        };
        let resp = self.deref(resp);
        let schema = resp
            .get("content")
            .and_then(|c| c.get("application/json"))
            .and_then(|c| c.get("schema"));
        match (schema, body) {
            (None, None) => Vec::new(),
            (None, Some(b)) => vec![format!(
                "status {status} of {} is documented without a body, got {}",
                op.operation_id,
                short(b)
            )],
            (Some(_), None) => vec![format!(
                "status {status} of {} is documented with a JSON body, got none",
                op.operation_id
            )],
            (Some(s), Some(b)) => self.validate(s, b),
        }
    }

    /// Problems with a request: path parameters, query parameters (undeclared, missing
    /// required, or of the wrong type) and the JSON body against the operation's schema.
    pub fn check_request(
        &self,
        method: &str,
        path: &str,
        query: &str,
        body: Option<&Value>,
    ) -> Vec<String> {
        let Some(op) = self.operation(method, path) else {
            return vec![format!("{method} {path}: no such operation in the spec")];
        };
        let mut problems = Vec::new();
        let params: Vec<&Value> = op.path_item["parameters"]
            .as_array()
            .into_iter()
            .chain(op.op["parameters"].as_array())
            .flatten()
            .map(|p| self.deref(p))
            .collect();
        let declared = |name: &str, place: &str| {
            params
                .iter()
                .rev() // operation-level parameters override path-level ones
                .find(|p| p["name"] == name && p["in"] == place)
                .copied()
        };
        for (name, value) in &op.path_params {
            match declared(name, "path") {
                Some(p) => problems.extend(
                    self.validate(&p["schema"], &Value::String(value.clone()))
                        .into_iter()
                        .map(|e| format!("path parameter {name}={value:?}: {e}")),
                ),
                None => problems.push(format!("path parameter {name} is not declared")),
            }
        }
        let mut given: Vec<(String, Vec<String>)> = Vec::new();
        for (k, v) in parse_query(query) {
            match given.iter_mut().find(|(n, _)| *n == k) {
                Some((_, vs)) => vs.push(v),
                None => given.push((k, vec![v])),
            }
        }
        for (name, values) in &given {
            let Some(p) = declared(name, "query") else {
                problems.push(format!(
                    "query parameter {name} is not declared for {}",
                    op.operation_id
                ));
                continue;
            };
            if p["deprecated"] == true {
                // e.g. restore's `?name=`, past its `x-sunset`: the API may drop it any day.
                problems.push(format!(
                    "query parameter {name} is deprecated (sunset {})",
                    p["x-sunset"].as_str().unwrap_or("unannounced")
                ));
            }
            let value = typed_query(&p["schema"], values);
            problems.extend(
                self.validate(&p["schema"], &value)
                    .into_iter()
                    .map(|e| format!("query parameter {name}={values:?}: {e}")),
            );
        }
        for p in &params {
            if p["in"] == "query"
                && p["required"] == true
                && !given.iter().any(|(n, _)| p["name"] == n.as_str())
            {
                problems.push(format!("required query parameter {} is missing", p["name"]));
            }
        }
        let request_body = op.op.get("requestBody").map(|b| self.deref(b));
        let schema = request_body
            .and_then(|b| b.get("content"))
            .and_then(|c| c.get("application/json"))
            .and_then(|c| c.get("schema"));
        match (schema, body) {
            (None, Some(b)) => problems.push(format!(
                "{} takes no JSON body, got {}",
                op.operation_id,
                short(b)
            )),
            (Some(_), None) if request_body.is_some_and(|b| b["required"] == true) => {
                problems.push(format!("{} requires a JSON body", op.operation_id))
            }
            (Some(s), Some(b)) => problems.extend(
                self.validate(s, b)
                    .into_iter()
                    .map(|e| format!("request body: {e}")),
            ),
            _ => {}
        }
        problems
    }

    /// Problems with the Neon requests in an emulator request log (GitHub and control calls
    /// are skipped), one line each with the request: call it at the end of an end-to-end test
    /// to prove every request neon-promote sent is one the real API accepts.
    pub fn check_logged(&self, requests: &[neon_emulator::LoggedRequest]) -> Vec<String> {
        requests
            .iter()
            .filter(|r| r.api == neon_emulator::Api::Neon)
            .flat_map(|r| {
                self.check_request(&r.method, &r.path, &r.query, r.body.as_ref())
                    .into_iter()
                    .map(move |p| format!("{} {}?{}: {p}", r.method, r.path, r.query))
            })
            .collect()
    }

    /// Panics listing every Neon request in the log that the spec does not allow.
    pub fn assert_requests_conform(&self, requests: &[neon_emulator::LoggedRequest]) {
        let problems = self.check_logged(requests);
        assert!(
            problems.is_empty(),
            "requests the pinned Neon OpenAPI spec does not allow:\n{}",
            problems.join("\n")
        );
    }

    /// Fields of a response body that the schema does not declare (allowed by OpenAPI, but a
    /// sign the emulator invents something the real API may not send). Paths are JSON
    /// pointers into the body.
    pub fn undeclared_in_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &Value,
    ) -> Vec<String> {
        let Some(op) = self.operation(method, path) else {
            return Vec::new();
        };
        let responses = &op.op["responses"];
        let Some(resp) = responses
            .get(status.to_string())
            .or_else(|| responses.get("default"))
        else {
            return Vec::new();
        };
        let Some(schema) = self.deref(resp)["content"]["application/json"].get("schema") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        self.undeclared(&convert(schema), body, String::new(), &mut out);
        out
    }

    /// The JSON schema (OpenAPI form) of a documented answer.
    pub fn response_schema(&self, method: &str, path: &str, status: u16) -> Option<&Value> {
        let op = self.operation(method, path)?;
        let resp = self.deref(op.op["responses"].get(status.to_string())?);
        resp["content"]["application/json"].get("schema")
    }

    /// The smallest answer the spec allows for a documented status: required fields only,
    /// `null` wherever a field is nullable, empty arrays. What a client's models must parse.
    pub fn minimal_response(&self, method: &str, path: &str, status: u16) -> Value {
        let schema = self
            .response_schema(method, path, status)
            .unwrap_or_else(|| panic!("{method} {path} {status}: no documented JSON answer"));
        let v = self.instance(&convert(schema), false, 0);
        let problems = self.validate(schema, &v);
        assert!(
            problems.is_empty(),
            "generated {v} is invalid: {problems:?}"
        );
        v
    }

    /// An answer with every declared field present (non-null) one level into arrays: a
    /// client's models must parse the optional fields' types too.
    pub fn full_response(&self, method: &str, path: &str, status: u16) -> Value {
        let schema = self
            .response_schema(method, path, status)
            .unwrap_or_else(|| panic!("{method} {path} {status}: no documented JSON answer"));
        self.instance(&convert(schema), true, 0)
    }

    /// An instance of a converted schema; `full`: all properties, one array item, no nulls.
    fn instance(&self, schema: &Value, full: bool, depth: usize) -> Value {
        let schema = self.def(schema);
        if depth > 12 {
            return Value::Null;
        }
        if let Some(parts) = schema["allOf"].as_array() {
            let mut out = Map::new();
            for p in parts {
                if let Value::Object(m) = self.instance(p, full, depth + 1) {
                    out.extend(m);
                }
            }
            if let Value::Object(m) = self.instance(&without(schema, "allOf"), full, depth + 1) {
                out.extend(m);
            }
            return Value::Object(out);
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(parts) = schema[key].as_array() {
                let null = parts.iter().any(|p| p["type"] == "null");
                if null && !full {
                    return Value::Null;
                }
                let pick = parts
                    .iter()
                    .find(|p| p["type"] != "null")
                    .unwrap_or(&parts[0]);
                return self.instance(pick, full, depth + 1);
            }
        }
        if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
            return first.clone();
        }
        let ty = schema["type"]
            .as_str()
            .unwrap_or(if schema.get("properties").is_some() {
                "object"
            } else {
                "string"
            });
        match ty {
            "object" => {
                let required: Vec<&str> = schema["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let mut out = Map::new();
                for (k, sub) in schema["properties"].as_object().into_iter().flatten() {
                    if full || required.contains(&k.as_str()) {
                        out.insert(k.clone(), self.instance(sub, full, depth + 1));
                    }
                }
                Value::Object(out)
            }
            "array" => {
                let n = schema["minItems"]
                    .as_u64()
                    .unwrap_or(0)
                    .max(u64::from(full));
                let item = &schema["items"];
                Value::Array(
                    (0..n)
                        .map(|_| self.instance(item, full, depth + 1))
                        .collect(),
                )
            }
            "integer" => schema["minimum"].as_i64().unwrap_or(0).into(),
            "number" => schema["minimum"].as_f64().unwrap_or(0.0).into(),
            "boolean" => Value::Bool(false),
            "null" => Value::Null,
            _ => Value::String(
                match schema["format"].as_str() {
                    Some("date-time") => "2022-11-30T20:09:48Z",
                    Some("date") => "2022-11-30",
                    Some("uuid") => "d8ac46eb-a757-42b1-9907-f78322ee394e",
                    Some("email") => "user@example.com",
                    Some("uri") => "https://example.com/",
                    _ => "x",
                }
                .to_string(),
            ),
        }
    }

    /// Validates `instance` against an OpenAPI schema of the spec (converted on the way).
    pub fn validate(&self, openapi_schema: &Value, instance: &Value) -> Vec<String> {
        let validator = self.validator(openapi_schema);
        validator
            .iter_errors(instance)
            .map(|e| {
                let at = e.instance_path.to_string();
                format!(
                    "at {}: {} (schema {})",
                    if at.is_empty() { "/" } else { &at },
                    truncate(&e.to_string(), 300),
                    e.schema_path
                )
            })
            .collect()
    }

    /// Validates `instance` against the component schema `name` (e.g. `Branch`).
    pub fn validate_component(&self, name: &str, instance: &Value) -> Vec<String> {
        assert!(
            self.definitions.get(name).is_some(),
            "no schema {name} in the spec"
        );
        self.validate(
            &json!({"$ref": format!("#/components/schemas/{name}")}),
            instance,
        )
    }

    fn validator(&self, openapi_schema: &Value) -> Arc<Validator> {
        let key = openapi_schema.to_string();
        if let Some(v) = self.validators.lock().unwrap().get(&key) {
            return v.clone();
        }
        // The converted schema as the root, with every component beside it as a definition.
        let mut root = json!({"allOf": [convert(openapi_schema)]});
        root["definitions"] = self.definitions.clone();
        let validator = jsonschema::options()
            .with_draft(Draft::Draft7)
            // `date-time`, `email`, `uuid` and `uri` are checked strictly by the crate; the
            // OpenAPI-only ones (`int64`, `uint64`, `binary`, …) are unknown and ignored.
            .should_validate_formats(true)
            .should_ignore_unknown_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("cannot compile schema {}: {e}", short(openapi_schema)));
        let validator = Arc::new(validator);
        self.validators
            .lock()
            .unwrap()
            .insert(key, validator.clone());
        validator
    }

    /// Follows a `$ref` to `#/components/...` in the raw document.
    fn deref<'a>(&'a self, v: &'a Value) -> &'a Value {
        let mut v = v;
        for _ in 0..16 {
            let Some(r) = v.get("$ref").and_then(Value::as_str) else {
                return v;
            };
            let pointer = r.strip_prefix('#').expect("only local $refs in the spec");
            v = self
                .raw
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {r}"));
        }
        panic!("$ref loop")
    }

    /// Resolves `#/definitions/X` in the converted world.
    fn def<'a>(&'a self, v: &'a Value) -> &'a Value {
        let mut v = v;
        for _ in 0..16 {
            let Some(r) = v.get("$ref").and_then(Value::as_str) else {
                return v;
            };
            let name = r.rsplit('/').next().unwrap_or_default();
            v = &self.definitions[name];
        }
        panic!("$ref loop")
    }

    fn undeclared(&self, schema: &Value, value: &Value, at: String, out: &mut Vec<String>) {
        let schema = self.def(schema);
        // Every branch of a composition may declare properties: take their union.
        let mut parts = vec![schema];
        let mut i = 0;
        while i < parts.len() {
            let s = parts[i];
            for key in ["allOf", "anyOf", "oneOf"] {
                for sub in s[key].as_array().into_iter().flatten() {
                    parts.push(self.def(sub));
                }
            }
            i += 1;
        }
        match value {
            Value::Object(map) => {
                let open = parts.iter().any(|p| {
                    p.get("additionalProperties")
                        .is_some_and(|a| *a != Value::Bool(false))
                });
                let declared: Map<String, Value> = parts
                    .iter()
                    .filter_map(|p| p["properties"].as_object())
                    .flat_map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())))
                    .collect();
                let extra = parts
                    .iter()
                    .find_map(|p| p.get("additionalProperties").filter(|a| a.is_object()));
                for (k, v) in map {
                    let here = format!("{at}/{k}");
                    match declared.get(k).or(extra) {
                        Some(s) => self.undeclared(s, v, here, out),
                        None if !open && parts.iter().any(|p| p.get("properties").is_some()) => {
                            out.push(here)
                        }
                        None => {}
                    }
                }
            }
            Value::Array(items) => {
                if let Some(s) = parts.iter().find_map(|p| p.get("items")) {
                    for (n, v) in items.iter().enumerate() {
                        self.undeclared(s, v, format!("{at}/{n}"), out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// An OpenAPI 3.0 schema as JSON Schema draft 7: `nullable: true` becomes "or null",
/// `#/components/schemas/X` becomes `#/definitions/X`, OpenAPI-only keywords go.
pub fn convert(schema: &Value) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (k, v) in map {
        let v = match k.as_str() {
            "$ref" => {
                let r = v.as_str().unwrap_or_default();
                Value::String(match r.strip_prefix("#/components/schemas/") {
                    Some(name) => format!("#/definitions/{name}"),
                    None => r.to_string(),
                })
            }
            "properties" | "patternProperties" => Value::Object(
                v.as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, s)| (name.clone(), convert(s)))
                    .collect(),
            ),
            "items" | "not" | "additionalProperties" => convert(v),
            "allOf" | "anyOf" | "oneOf" => {
                Value::Array(v.as_array().into_iter().flatten().map(convert).collect())
            }
            "nullable" | "discriminator" | "example" | "examples" | "externalDocs" | "xml"
            | "deprecated" => continue,
            key if key.starts_with("x-") => continue,
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    if map.get("nullable") == Some(&Value::Bool(true)) {
        return json!({"anyOf": [{"type": "null"}, Value::Object(out)]});
    }
    Value::Object(out)
}

fn without(schema: &Value, key: &str) -> Value {
    let mut s = schema.clone();
    if let Some(m) = s.as_object_mut() {
        m.remove(key);
    }
    s
}

/// A query parameter's raw strings as the JSON value its schema expects.
fn typed_query(schema: &Value, values: &[String]) -> Value {
    fn one(ty: &str, s: &str) -> Value {
        match ty {
            "boolean" => match s {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => Value::String(s.into()),
            },
            "integer" => s
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| s.into()),
            "number" => s
                .parse::<f64>()
                .ok()
                .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
                .unwrap_or_else(|| s.into()),
            _ => Value::String(s.into()),
        }
    }
    let ty = schema["type"].as_str().unwrap_or("string");
    if ty == "array" {
        let item = schema["items"]["type"].as_str().unwrap_or("string");
        return Value::Array(values.iter().map(|v| one(item, v)).collect());
    }
    if values.len() > 1 {
        // A scalar given twice: let the schema say no.
        return Value::Array(values.iter().map(|v| one(ty, v)).collect());
    }
    one(ty, &values[0])
}

/// `a=1&b=x%20y` as decoded pairs (`+` is a space, as in forms).
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn keys(v: &Value) -> String {
    v.as_object()
        .map(|m| m.keys().cloned().collect::<Vec<_>>().join(", "))
        .unwrap_or_default()
}

fn short(v: &Value) -> String {
    truncate(&v.to_string(), 200)
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
