//! Whom an opener trusts: the owner and the mode of a segment's file.
//!
//! `/dev/shm` is world-writable, so anyone can create a file under a name
//! before its rightful creator does, and whoever can write a segment can
//! truncate it or forge its locks. An opener therefore accepts a file only
//! when every user who can write it is trusted:
//!
//! - its owner is this process's effective user, root, or a user named with
//!   [`SegmentOptions::trust_owner`];
//! - it is not writable by "others" (mode `o+w`);
//! - it is group-writable only when its group was named with
//!   [`SegmentOptions::trust_group`].

use super::SegmentOptions;

/// Who owns a file and who may write it, as the opener sees it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ownership {
    /// The owning user id.
    pub uid: u32,
    /// The owning group id.
    pub gid: u32,
    /// The permission bits (`st_mode & 0o7777`).
    pub mode: u32,
}

/// Why a file is not trusted, or `None` when it is.
pub(super) fn distrust(file: Ownership, me: u32, options: &SegmentOptions) -> Option<String> {
    let owner_trusted =
        file.uid == me || file.uid == 0 || options.trusted_owners.contains(&file.uid);
    if !owner_trusted {
        return Some(format!(
            "it is owned by uid {}, not by this user (uid {me}) or root",
            file.uid
        ));
    }
    if file.mode & 0o002 != 0 {
        return Some(format!(
            "its mode {:04o} lets every user write it",
            file.mode
        ));
    }
    if file.mode & 0o020 != 0 && !options.trusted_groups.contains(&file.gid) {
        return Some(format!(
            "its mode {:04o} lets group {} write it, and that group is not trusted",
            file.mode, file.gid
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(uid: u32, gid: u32, mode: u32) -> Ownership {
        Ownership { uid, gid, mode }
    }

    #[test]
    fn own_and_root_files_are_trusted() {
        let options = SegmentOptions::new();
        assert_eq!(distrust(file(1000, 1000, 0o600), 1000, &options), None);
        assert_eq!(distrust(file(0, 0, 0o644), 1000, &options), None);
    }

    #[test]
    fn foreign_owners_need_an_opt_in() {
        let reason = distrust(file(65534, 65534, 0o600), 0, &SegmentOptions::new()).unwrap();
        assert!(reason.contains("uid 65534"), "{reason}");
        let options = SegmentOptions::new().trust_owner(65534);
        assert_eq!(distrust(file(65534, 65534, 0o600), 0, &options), None);
    }

    #[test]
    fn writable_by_others_is_never_trusted() {
        let options = SegmentOptions::new().trust_owner(65534).trust_group(65534);
        let reason = distrust(file(65534, 65534, 0o666), 0, &options).unwrap();
        assert!(reason.contains("0666"), "{reason}");
        let reason = distrust(file(0, 0, 0o602), 0, &options).unwrap();
        assert!(reason.contains("every user"), "{reason}");
    }

    #[test]
    fn group_writable_needs_a_trusted_group() {
        let reason = distrust(file(0, 50, 0o660), 0, &SegmentOptions::new()).unwrap();
        assert!(reason.contains("group 50"), "{reason}");
        let options = SegmentOptions::new().trust_group(50);
        assert_eq!(distrust(file(0, 50, 0o660), 0, &options), None);
    }
}
