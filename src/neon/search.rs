//! The streaming exact-name branch search: one page of `GET /projects/{p}/branches?search=…`
//! is read branch by branch and only the exact match is kept. A page can hold 10,000 branches,
//! and holding them all would triple the binary's peak memory. It does not page (the client's
//! cursor helper does) and does not send anything.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::models::Branch;
use super::pages::Pagination;

/// One page of a branch search, reduced to what the search needs.
pub(super) struct SearchPage {
    pub hit: Option<Branch>,
    pub count: usize,
    pub pagination: Option<Pagination>,
}

/// Parses a page of `{branches: [...], pagination: {next}}`, keeping the branch whose id or
/// name is exactly `name_or_id`.
pub(super) fn read_page(name_or_id: &str, bytes: &[u8]) -> serde_json::Result<SearchPage> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let page = SearchSeed(name_or_id).deserialize(&mut de)?;
    de.end()?;
    Ok(page)
}

#[derive(Clone, Copy)]
struct SearchSeed<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for SearchSeed<'_> {
    type Value = SearchPage;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<SearchPage, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for SearchSeed<'_> {
    type Value = SearchPage;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a page of branches")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SearchPage, A::Error> {
        let mut page = SearchPage {
            hit: None,
            count: 0,
            pagination: None,
        };
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "branches" => (page.hit, page.count) = map.next_value_seed(Sieve(self.0))?,
                "pagination" => page.pagination = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(page)
    }
}

/// The `branches` array: each branch is parsed and dropped unless it matches exactly.
struct Sieve<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for Sieve<'_> {
    type Value = (Option<Branch>, usize);
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Sieve<'_> {
    type Value = (Option<Branch>, usize);
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of branches")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let (mut hit, mut count) = (None, 0);
        while let Some(branch) = seq.next_element::<Branch>()? {
            count += 1;
            if hit.is_none() && (branch.id == self.0 || branch.name == self.0) {
                hit = Some(branch);
            }
        }
        Ok((hit, count))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keeps_only_the_exact_match_and_counts_the_page() {
        let page = json!({
            "branches": [
                { "id": "br-1", "name": "dev_feature" },
                { "id": "br-2", "name": "dev" },
                { "id": "br-3", "name": "dev2" },
            ],
            "annotations": {},
            "pagination": { "next": "c1" },
        });
        let page = read_page("dev", page.to_string().as_bytes()).unwrap();
        assert_eq!(page.hit.map(|b| b.id).as_deref(), Some("br-2"));
        assert_eq!(page.count, 3);
        assert_eq!(
            page.pagination.and_then(Pagination::into_cursor).as_deref(),
            Some("c1")
        );
    }

    #[test]
    fn trailing_garbage_is_an_error() {
        assert!(read_page("dev", br#"{"branches": []} x"#).is_err());
    }
}
