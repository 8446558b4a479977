//! Log sequence numbers: one scale for the whole project, advanced only by writes. A child
//! starts at its parent's LSN, a snapshot records its branch's, a restore starts at the
//! snapshot's. No public route shows a branch's current LSN; tests read it with
//! [`State::lsn_of`].

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

use super::{Branch, State};

/// An LSN; printed as Postgres does (`0/16B3748`: high and low 32 bits in hex).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

/// Where a new project's WAL starts (Neon's first LSNs look like this).
pub const FIRST_LSN: Lsn = Lsn(0x0149_6B28);
/// How far one emulated write moves the project's WAL.
pub const WRITE_STEP: u64 = 0x2_0000;

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

impl FromStr for Lsn {
    type Err = ();
    fn from_str(s: &str) -> Result<Lsn, ()> {
        let (hi, lo) = s.split_once('/').ok_or(())?;
        let hi = u32::from_str_radix(hi, 16).map_err(|_| ())?;
        let lo = u32::from_str_radix(lo, 16).map_err(|_| ())?;
        Ok(Lsn((u64::from(hi) << 32) | u64::from(lo)))
    }
}

impl Serialize for Lsn {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl State {
    /// A branch's current LSN (by id or name).
    pub fn lsn_of(&self, name_or_id: &str) -> Option<Lsn> {
        self.find_branch(name_or_id).map(|b| b.lsn)
    }

    /// "Writes" to a branch (by id or name) without changing its data tag or schema: its LSN
    /// moves to the project's next one. Returns the new LSN.
    pub fn write(&mut self, name_or_id: &str) -> Option<Lsn> {
        let id = self.find_branch(name_or_id)?.id.clone();
        Some(self.write_branch(&id, |_| {}))
    }

    /// Applies `change` to branch `id` as one write (the LSN advances).
    pub(super) fn write_branch(&mut self, id: &str, change: impl FnOnce(&mut Branch)) -> Lsn {
        self.lsn_head = Lsn(self.lsn_head.0 + WRITE_STEP);
        let now = self.now();
        let b = self.branches.get_mut(id).expect("an existing branch");
        change(b);
        b.lsn = self.lsn_head;
        b.updated_at = now;
        self.lsn_head
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::test_support::*;
    use crate::state::{RestoreReq, SnapshotReq};

    #[test]
    fn text_form_round_trips() {
        assert_eq!(Lsn(0x16B_3748).to_string(), "0/16B3748");
        assert_eq!(Lsn((1 << 32) | 0xA).to_string(), "1/A");
        assert_eq!("0/16B3748".parse::<Lsn>(), Ok(Lsn(0x16B_3748)));
        assert!("16B3748".parse::<Lsn>().is_err());
        assert_eq!(serde_json::to_value(Lsn(1)).unwrap(), "0/1");
    }

    #[test]
    fn lsns_advance_on_writes_only_and_are_inherited() {
        let (mut s, prod, dev) = demo();
        let start = s.lsn_of(&prod).unwrap();
        assert_eq!(
            s.lsn_of(&dev),
            Some(start),
            "dev was restored from prod's snapshot"
        );
        let (snap, _) = s.create_snapshot(&prod, SnapshotReq::default()).unwrap();
        assert_eq!(snap.lsn, start);
        let written = s.write(&dev).unwrap();
        assert!(written > start);
        assert_eq!(
            s.lsn_of(&prod),
            Some(start),
            "only the written branch moves"
        );
        s.set_data("production", "prod-v2");
        let prod_now = s.lsn_of(&prod).unwrap();
        assert!(prod_now > written, "one scale for the project");
        let preview = child(&mut s, "preview", &dev);
        assert_eq!(s.lsn_of(&preview), Some(written));
        assert_eq!(s.branch(&preview).unwrap().parent_lsn, Some(written));
        let (new, _, _) = s
            .restore_snapshot(
                &snap.id,
                RestoreReq {
                    name: Some("from-snap".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(
            s.lsn_of(&new.id),
            Some(start),
            "a restore starts at the snapshot's LSN"
        );
    }
}
