//! Cursor pagination in one place, for every list the client reads: branches (`.pagination.next`)
//! and operations (`.pagination.cursor`). It builds page queries and decides when a list has
//! ended; it sends nothing.

use serde::Deserialize;

/// `.pagination`: branches name the next cursor `next`, operations `cursor`.
#[derive(Deserialize)]
pub(super) struct Pagination {
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

impl Pagination {
    pub(super) fn into_cursor(self) -> Option<String> {
        self.next.or(self.cursor).filter(|c| !c.is_empty())
    }
}

/// Cursor pagination in one place: the list goes on after a full page with a cursor, and ends
/// at a short page, a missing cursor, or when the caller has seen enough.
pub(super) struct Pages {
    limit: usize,
    cursor: Option<String>,
    ended: bool,
}

impl Pages {
    pub(super) fn new(limit: usize) -> Self {
        Self {
            limit,
            cursor: None,
            ended: false,
        }
    }

    /// The next page's query (`base`, `limit`, then `cursor` after the first), or `None`.
    pub(super) fn next_query(
        &mut self,
        base: &[(&'static str, String)],
    ) -> Option<Vec<(&'static str, String)>> {
        if self.ended {
            return None;
        }
        let mut query = base.to_vec();
        query.push(("limit", self.limit.to_string()));
        query.extend(self.cursor.take().map(|c| ("cursor", c)));
        Some(query)
    }

    /// Records a page of `count` items.
    pub(super) fn turn(&mut self, count: usize, pagination: Option<Pagination>) {
        self.cursor = pagination
            .and_then(Pagination::into_cursor)
            .filter(|_| count == self.limit);
        self.ended = self.cursor.is_none();
    }

    pub(super) fn end(&mut self) {
        self.ended = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_go_on_only_after_a_full_page_with_a_cursor() {
        let cursor = |c: &str| {
            Some(Pagination {
                next: None,
                cursor: Some(c.into()),
            })
        };
        let mut pages = Pages::new(2);
        let base = [("search", "dev".to_string())];
        assert_eq!(
            pages.next_query(&base).unwrap(),
            [("search", "dev".into()), ("limit", "2".into())]
        );
        pages.turn(2, cursor("c+1"));
        let second = pages.next_query(&base).unwrap();
        assert_eq!(second.last().unwrap(), &("cursor", "c+1".to_string()));
        pages.turn(1, cursor("c2"));
        assert!(pages.next_query(&base).is_none());
        let mut pages = Pages::new(2);
        pages.next_query(&[]);
        pages.turn(2, cursor(""));
        assert!(pages.next_query(&[]).is_none());
    }
}
