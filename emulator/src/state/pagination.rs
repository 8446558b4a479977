//! Listing branches: `search`, sort orders, and keyset pagination with opaque base64 cursors.

use serde_json::{Value, json};

use std::collections::BTreeMap;

use super::model::Branch;
use super::{ApiError, ApiResult, State};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    UpdatedAt,
    CreatedAt,
    Name,
}

impl SortBy {
    pub fn as_str(self) -> &'static str {
        match self {
            SortBy::UpdatedAt => "updated_at",
            SortBy::CreatedAt => "created_at",
            SortBy::Name => "name",
        }
    }
    fn parse(s: &str) -> Option<SortBy> {
        match s {
            "updated_at" => Some(SortBy::UpdatedAt),
            "created_at" => Some(SortBy::CreatedAt),
            "name" => Some(SortBy::Name),
            _ => None,
        }
    }
}

/// Query of `GET /projects/{p}/branches`.
#[derive(Debug, Clone, Default)]
pub struct ListBranchesQuery {
    pub search: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// One page of branches.
#[derive(Debug)]
pub struct BranchPage<'a> {
    pub branches: Vec<&'a Branch>,
    pub next: Option<String>,
    pub sort_by: SortBy,
    pub desc: bool,
}

/// The spec's `LimitParam` maximum: larger pages are refused.
pub const MAX_BRANCH_LIMIT: usize = 10_000;
/// The page size without `limit`. Neon's own CLI says "branch list pages cap at 100" and walks
/// `pagination.next`; a client that sends no `limit` must paginate here too.
pub const DEFAULT_BRANCH_LIMIT: usize = 100;

impl State {
    /// `GET /projects/{p}/branches`: `search` is a substring of the name or id; keyset (cursor)
    /// pagination over (sort key, id); `next` is the cursor after the last item of a non-empty
    /// page, present even when that page happens to be the last one (clients stop on an empty
    /// page or a short one).
    pub fn list_branches(&self, q: &ListBranchesQuery) -> ApiResult<BranchPage<'_>> {
        list_branches_in(&self.branches, q)
    }
}

/// [`State::list_branches`] over `branches` (the current ones, or a stale copy).
pub fn list_branches_in<'a>(
    branches: &'a BTreeMap<String, Branch>,
    q: &ListBranchesQuery,
) -> ApiResult<BranchPage<'a>> {
    let limit = match q.limit.as_deref() {
        None | Some("") => DEFAULT_BRANCH_LIMIT,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_BRANCH_LIMIT).contains(&n) => n,
            _ => {
                return Err(ApiError::new(
                    400,
                    format!("limit: must be an integer from 1 to {MAX_BRANCH_LIMIT}"),
                ));
            }
        },
    };
    let (mut sort_by, mut desc) = (SortBy::UpdatedAt, true);
    if let Some(s) = q.sort_by.as_deref().filter(|s| !s.is_empty()) {
        sort_by = SortBy::parse(s).ok_or_else(|| {
            ApiError::new(400, "sort_by: must be one of name, created_at, updated_at")
        })?;
    }
    if let Some(s) = q.sort_order.as_deref().filter(|s| !s.is_empty()) {
        desc = match s {
            "desc" => true,
            "asc" => false,
            _ => return Err(ApiError::new(400, "sort_order: must be one of asc, desc")),
        };
    }
    let cursor = match q.cursor.as_deref().filter(|s| !s.is_empty()) {
        Some(c) => {
            let cur = Cursor::decode(c).ok_or_else(|| ApiError::new(400, "invalid cursor"))?;
            // The cursor carries the order it was made for.
            sort_by = cur.sort_by;
            desc = cur.desc;
            Some(cur)
        }
        None => None,
    };
    let search = q.search.as_deref().filter(|s| !s.is_empty());
    let mut all: Vec<&Branch> = branches
        .values()
        .filter(|b| search.is_none_or(|s| matches_search(b, s)))
        .collect();
    let key_cmp = |a: &Branch, b: &Branch| -> std::cmp::Ordering {
        let k = match sort_by {
            SortBy::UpdatedAt => a.updated_at.cmp(&b.updated_at),
            SortBy::CreatedAt => a.created_at.cmp(&b.created_at),
            SortBy::Name => a.name.cmp(&b.name),
        };
        k.then_with(|| a.id.cmp(&b.id))
    };
    all.sort_unstable_by(|a, b| if desc { key_cmp(b, a) } else { key_cmp(a, b) });
    let start = match &cursor {
        Some(cur) => all.partition_point(|b| {
            let o = cur.cmp_branch(b);
            // Items at or before the cursor in the page order.
            if desc {
                o != std::cmp::Ordering::Less
            } else {
                o != std::cmp::Ordering::Greater
            }
        }),
        None => 0,
    };
    let page: Vec<&Branch> = all[start..].iter().take(limit).copied().collect();
    let next = page
        .last()
        .map(|b| Cursor::for_branch(b, sort_by, desc).encode());
    Ok(BranchPage {
        branches: page,
        next,
        sort_by,
        desc,
    })
}

/// The branch list `search`: a case-insensitive substring of the name or the id (the spec:
/// "partial `name` or `id` values"). Case-insensitive is the wider reading: more matches, so
/// a client must still compare names exactly.
pub fn matches_search(b: &Branch, search: &str) -> bool {
    if b.name.contains(search) || b.id.contains(search) {
        return true;
    }
    let needle = search.to_lowercase();
    b.name.to_lowercase().contains(&needle) || b.id.contains(&needle)
}

/// Keyset cursor: sort order, the last item's key and id. Opaque to clients (standard base64
/// of a small JSON object, see [`Cursor::encode`]).
#[derive(Debug, Clone)]
struct Cursor {
    sort_by: SortBy,
    desc: bool,
    key: String,
    id: String,
}

impl Cursor {
    fn for_branch(b: &Branch, sort_by: SortBy, desc: bool) -> Cursor {
        let key = match sort_by {
            SortBy::UpdatedAt => b.updated_at.as_nanosecond().to_string(),
            SortBy::CreatedAt => b.created_at.as_nanosecond().to_string(),
            SortBy::Name => b.name.clone(),
        };
        Cursor {
            sort_by,
            desc,
            key,
            id: b.id.clone(),
        }
    }
    /// Standard base64 (with `+`, `/` and `=`) of a small JSON object, like Neon's `eyJ…`
    /// cursors: a client has to percent-encode it in the query string.
    fn encode(&self) -> String {
        let raw = json!({
            "sort_by": self.sort_by.as_str(),
            "sort_order": if self.desc { "desc" } else { "asc" },
            "id": self.id,
            "key": self.key,
        })
        .to_string();
        base64_encode(raw.as_bytes())
    }
    fn decode(s: &str) -> Option<Cursor> {
        let v: Value = serde_json::from_slice(&base64_decode(s)?).ok()?;
        let raw = format!(
            "{}\n{}\n{}\n{}",
            v["sort_by"].as_str()?,
            v["sort_order"].as_str()?,
            v["id"].as_str()?,
            v["key"].as_str()?
        );
        let mut parts = raw.splitn(4, '\n');
        let sort_by = SortBy::parse(parts.next()?)?;
        let desc = match parts.next()? {
            "desc" => true,
            "asc" => false,
            _ => return None,
        };
        let id = parts.next()?.to_string();
        let key = parts.next()?.to_string();
        if sort_by != SortBy::Name {
            key.parse::<i128>().ok()?;
        }
        Some(Cursor {
            sort_by,
            desc,
            key,
            id,
        })
    }
    /// Compares `b` with the cursor position in ascending (key, id) order.
    fn cmp_branch(&self, b: &Branch) -> std::cmp::Ordering {
        let k = match self.sort_by {
            SortBy::UpdatedAt => b
                .updated_at
                .as_nanosecond()
                .cmp(&self.key.parse::<i128>().unwrap_or(0)),
            SortBy::CreatedAt => b
                .created_at
                .as_nanosecond()
                .cmp(&self.key.parse::<i128>().unwrap_or(0)),
            SortBy::Name => b.name.as_str().cmp(self.key.as_str()),
        };
        k.then_with(|| b.id.as_str().cmp(self.id.as_str()))
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = B64.iter().position(|b| *b == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests;
