use std::time::Duration;

use crate::state::test_support::*;
use crate::state::*;

#[test]
fn cursor_pagination_over_20000_branches() {
    let (mut s, _prod, dev) = demo();
    s.insert_many_branches("dev_feature_", 20_000, &dev);
    let started = std::time::Instant::now();
    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = ListBranchesQuery {
            search: Some("dev".into()),
            limit: Some("3000".into()),
            cursor: cursor.clone(),
            ..Default::default()
        };
        let page = s.list_branches(&q).unwrap();
        pages += 1;
        if page.branches.is_empty() {
            assert!(page.next.is_none());
            break;
        }
        for b in &page.branches {
            assert!(seen.insert(b.id.clone()), "duplicate {}", b.id);
        }
        cursor = page.next;
    }
    // 20,000 previews + dev (by name) = 20,001 matches; 7 full pages and one empty.
    assert_eq!(seen.len(), 20_001);
    assert_eq!(pages, 8);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "listing is slow: {:?}",
        started.elapsed()
    );
    // Ordering: updated_at descending by default; name ascending when asked.
    let page = s
        .list_branches(&ListBranchesQuery {
            sort_by: Some("name".into()),
            sort_order: Some("asc".into()),
            limit: Some("5".into()),
            ..Default::default()
        })
        .unwrap();
    let names: Vec<&str> = page.branches.iter().map(|b| b.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    // The cursor carries the order.
    let next = s
        .list_branches(&ListBranchesQuery {
            cursor: page.next,
            limit: Some("5".into()),
            ..Default::default()
        })
        .unwrap();
    assert!(next.branches[0].name.as_str() > *names.last().unwrap());
    assert_eq!(
        s.list_branches(&ListBranchesQuery {
            limit: Some("10001".into()),
            ..Default::default()
        })
        .unwrap_err()
        .status,
        400
    );
    assert_eq!(
        s.list_branches(&ListBranchesQuery {
            cursor: Some("zz".into()),
            ..Default::default()
        })
        .unwrap_err()
        .status,
        400
    );
}

#[test]
fn round_trips() {
    for s in ["", "a", "ab", "abc", "abcd", "{\"key\":\"dev_feature_1\"}"] {
        let e = super::base64_encode(s.as_bytes());
        assert_eq!(e.len() % 4, 0);
        assert_eq!(super::base64_decode(&e).unwrap(), s.as_bytes());
    }
    assert_eq!(
        super::base64_encode(b"any carnal pleas"),
        "YW55IGNhcm5hbCBwbGVhcw=="
    );
}

#[test]
fn search_is_a_case_insensitive_substring_of_name_or_id() {
    let mut s = State::new("p", Limits::default());
    let (prod, _dev) = s.seed_demo();
    let found = |s: &State, q: &str| -> Vec<String> {
        let q = ListBranchesQuery {
            search: Some(q.into()),
            ..Default::default()
        };
        let mut names: Vec<String> = s
            .list_branches(&q)
            .unwrap()
            .branches
            .iter()
            .map(|b| b.name.clone())
            .collect();
        names.sort();
        names
    };
    assert_eq!(found(&s, "DEV"), ["dev"]);
    assert_eq!(found(&s, "duct"), ["production"]);
    assert_eq!(found(&s, &prod[3..12]), ["production"]);
    assert!(found(&s, "nothing-like-this").is_empty());
}
