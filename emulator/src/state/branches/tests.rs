use std::time::Duration;

use jiff::SignedDuration;

use crate::state::test_support::*;
use crate::state::*;
use crate::time::fmt_ts;

#[test]
fn delete_refusals() {
    let (mut s, prod, dev) = demo();
    let c = child(&mut s, "c", &dev);
    assert_eq!(s.delete_branch(&prod).unwrap_err().status, 422, "default");
    assert_eq!(
        s.delete_branch(&dev).unwrap_err().status,
        422,
        "has children"
    );
    protect(&mut s, &c, true);
    assert_eq!(s.delete_branch(&c).unwrap_err().status, 422, "protected");
    protect(&mut s, &c, false);
    assert!(s.delete_branch(&c).unwrap().is_some());
    assert!(s.delete_branch(&c).unwrap().is_none(), "already gone");
    assert!(
        s.delete_branch(&dev).unwrap().is_some(),
        "a non-default root can go"
    );
}

#[test]
fn expiry_validation() {
    let (mut s, prod, dev) = demo();
    let now = s.now();
    let at = |d: SignedDuration| fmt_ts(now + d);
    let req = |name: &str, exp: String| CreateBranchReq {
        name: Some(name.into()),
        parent_id: Some(dev.clone()),
        expires_at: Some(exp),
        ..Default::default()
    };
    // Seconds and milliseconds precision are both accepted.
    let ok = s
        .create_branch(req("a", at(SignedDuration::from_hours(24))))
        .unwrap()
        .branch;
    let ms = (now + SignedDuration::from_hours(2))
        .strftime("%Y-%m-%dT%H:%M:%S.%3fZ")
        .to_string();
    s.create_branch(req("b", ms)).unwrap();
    assert_eq!(
        s.create_branch(req("c", at(SignedDuration::from_hours(-1))))
            .unwrap_err()
            .status,
        400,
        "past"
    );
    assert_eq!(
        s.create_branch(req("d", at(SignedDuration::from_hours(24 * 31))))
            .unwrap_err()
            .status,
        400,
        "> 30 days"
    );
    assert_eq!(
        s.create_branch(req("e", "tomorrow".into()))
            .unwrap_err()
            .status,
        400
    );
    assert_eq!(
        s.create_branch(req("f", "2030-01-01T00:00:00".into()))
            .unwrap_err()
            .status,
        400,
        "no offset"
    );
    // An expiring branch cannot get children.
    let err = s
        .create_branch(CreateBranchReq {
            name: Some("g".into()),
            parent_id: Some(ok.id.clone()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(err.status, 400);
    // Not on default / protected / parent branches.
    let exp = Some(Some(at(SignedDuration::from_hours(5))));
    assert_eq!(
        s.update_branch(
            &prod,
            UpdateBranchReq {
                expires_at: exp.clone(),
                ..Default::default()
            }
        )
        .unwrap_err()
        .status,
        400
    );
    assert_eq!(
        s.update_branch(
            &dev,
            UpdateBranchReq {
                expires_at: exp.clone(),
                ..Default::default()
            }
        )
        .unwrap_err()
        .status,
        400
    );
    // Refreshing and clearing the expiry.
    let b = s
        .update_branch(
            &ok.id,
            UpdateBranchReq {
                expires_at: exp.clone(),
                ..Default::default()
            },
        )
        .unwrap()
        .0;
    assert!(b.expires_at.is_some());
    let b = s
        .update_branch(
            &ok.id,
            UpdateBranchReq {
                expires_at: Some(None),
                ..Default::default()
            },
        )
        .unwrap()
        .0;
    assert!(b.expires_at.is_none());
    // Expired branches disappear.
    s.update_branch(
        &ok.id,
        UpdateBranchReq {
            expires_at: exp,
            ..Default::default()
        },
    )
    .unwrap();
    s.advance(Duration::from_secs(6 * 3600));
    assert!(s.branch(&ok.id).is_none());
}

#[test]
fn duplicate_names_conflict() {
    let (mut s, _prod, dev) = demo();
    // Zero-length operations: the branch is ready in the creation answer itself.
    let b = s
        .create_branch(CreateBranchReq {
            name: Some("x".into()),
            parent_id: Some(dev.clone()),
            ..Default::default()
        })
        .unwrap()
        .branch;
    assert_eq!(b.current_state, "ready");
    child(&mut s, "preview/pr-1", &dev);
    let err = s
        .create_branch(CreateBranchReq {
            name: Some("preview/pr-1".into()),
            parent_id: Some(dev),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(err.status, 409);
}
