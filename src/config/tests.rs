//! Unit tests of `config`: command lines turned into a `Config`, no I/O.

use super::*;

fn cfg(argv: &[&str]) -> Result<Config, UsageError> {
    let mut v = vec!["uring-cp"];
    v.extend_from_slice(argv);
    Config::from_args(crate::cli::parse_from(v).expect("argv parses"))
}

#[test]
fn sizes() {
    assert_eq!(parse_size("16M").unwrap(), 16 << 20);
    assert_eq!(parse_size("64K").unwrap(), 64 << 10);
    assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
    assert!(parse_size("1K").is_err());
    assert!(parse_size("lots").is_err());
}

#[test]
fn deref_defaults_follow_cp() {
    assert_eq!(cfg(&["a", "b"]).unwrap().deref, Deref::Always);
    assert_eq!(cfg(&["-r", "a", "b"]).unwrap().deref, Deref::Never);
    assert_eq!(cfg(&["-rL", "a", "b"]).unwrap().deref, Deref::Always);
    assert_eq!(cfg(&["-rH", "a", "b"]).unwrap().deref, Deref::CommandLine);
    assert_eq!(cfg(&["-LP", "a", "b"]).unwrap().deref, Deref::Never);
}

#[test]
fn operands() {
    assert!(cfg(&[]).is_err());
    assert!(cfg(&["a"]).is_err());
    assert!(cfg(&["-T", "a", "b", "c"]).is_err());
    let c = cfg(&["a", "b", "c"]).unwrap();
    assert_eq!(c.sources.len(), 2);
    assert_eq!(c.target, Target::Auto("c".into()));
    let c = cfg(&["-t", "d", "a", "b"]).unwrap();
    assert_eq!(c.target, Target::IntoDir("d".into()));
    assert_eq!(c.sources.len(), 2);
}

#[test]
fn preserve_lists() {
    let p = cfg(&["-a", "a", "b"]).unwrap();
    assert!(p.recursive && p.deref == Deref::Never);
    let p = p.preserve;
    assert!(p.mode && p.ownership && p.timestamps && p.links && p.xattr && p.required);
    assert!(!p.xattr_required && !p.context);
    let p = cfg(&["-p", "a", "b"]).unwrap().preserve;
    assert!(p.mode && p.ownership && p.timestamps && !p.links && !p.xattr);
    let p = cfg(&["--preserve", "a", "b"]).unwrap().preserve;
    assert!(p.mode && p.ownership && p.timestamps && !p.links);
    let p = cfg(&["--preserve=ti,li", "a", "b"]).unwrap().preserve;
    assert!(p.timestamps && p.links && !p.mode);
    let p = cfg(&["-a", "--no-preserve=mode,xattr", "a", "b"])
        .unwrap()
        .preserve;
    assert!(!p.mode && !p.xattr && p.ownership && p.no_mode);
    // In command-line order, as cp.
    let p = cfg(&["--no-preserve=mode", "--preserve=all", "a", "b"])
        .unwrap()
        .preserve;
    assert!(p.mode && !p.no_mode);
    let p = cfg(&["--preserve=all", "--no-pres=mode", "-p", "a", "b"])
        .unwrap()
        .preserve;
    assert!(p.mode && p.links && !p.no_mode);
    let p = cfg(&["-p", "--no-preserve=mode", "a", "b"])
        .unwrap()
        .preserve;
    assert!(!p.mode && p.no_mode && p.timestamps);
    let p = cfg(&["--preserve=xattr", "a", "b"]).unwrap().preserve;
    assert!(p.xattr && p.xattr_required);
    let p = cfg(&["-d", "a", "b"]).unwrap();
    assert!(p.preserve.links && !p.preserve.required && p.deref == Deref::Never);
    assert!(cfg(&["--preserve=bogus", "a", "b"]).is_err());
    assert!(cfg(&["--preserve=", "a", "b"]).is_err());
    assert!(cfg(&["--preserve=mode,,links", "a", "b"]).is_err());
    assert!(cfg(&["--reflink=always", "--sparse=never", "a", "b"]).is_err());
    assert_eq!(
        cfg(&["--reflink", "a", "b"]).unwrap().reflink,
        Reflink::Always
    );
    assert_eq!(cfg(&["a", "b"]).unwrap().reflink, Reflink::Auto);
}

#[test]
fn backup_controls() {
    let kind = |argv: &[&str], vc: Option<&str>| {
        let mut v = vec!["uring-cp"];
        v.extend_from_slice(argv);
        let args = crate::cli::parse_from(v).expect("argv parses");
        backup(&args, vc.map(str::to_string), None).map(|b| b.map(|b| b.kind))
    };
    assert_eq!(kind(&["a", "b"], Some("t")).unwrap(), None);
    assert_eq!(
        kind(&["-b", "a", "b"], None).unwrap(),
        Some(BackupKind::Existing)
    );
    assert_eq!(
        kind(&["-b", "a", "b"], Some("t")).unwrap(),
        Some(BackupKind::Numbered)
    );
    assert_eq!(
        kind(&["--backup=simple", "a", "b"], Some("t")).unwrap(),
        Some(BackupKind::Simple)
    );
    assert_eq!(
        kind(&["--backup=nu", "a", "b"], None).unwrap(),
        Some(BackupKind::Numbered)
    );
    assert_eq!(kind(&["--backup=off", "a", "b"], None).unwrap(), None);
    assert_eq!(
        kind(&["-S", ".b", "a", "b"], None).unwrap(),
        Some(BackupKind::Existing)
    );
    assert!(kind(&["--backup=n", "a", "b"], None).is_err());
    assert!(kind(&["-b", "a", "b"], Some("bogus")).is_err());
    assert!(kind(&["-bn", "a", "b"], None).is_err());
    // -n then -i: -i wins, so backups are allowed.
    assert!(kind(&["-n", "-i", "-b", "a", "b"], None).is_ok());
    let c = cfg(&["-n", "-i", "a", "b"]).unwrap();
    assert!(c.interactive && c.overwrite != Overwrite::Skip);
    let c = cfg(&["-i", "-n", "a", "b"]).unwrap();
    assert!(!c.interactive && c.overwrite == Overwrite::Skip);
    // No bar over -i's questions.
    assert_eq!(
        cfg(&["-i", "--progress", "a", "b"]).unwrap().progress,
        When::Never
    );
}

#[test]
fn no_clobber_wins_over_force() {
    // -n wins over -f whatever the order, as with cp (`cp -nf c d`
    // leaves d alone).
    assert_eq!(cfg(&["-nf", "a", "b"]).unwrap().overwrite, Overwrite::Skip);
    assert_eq!(cfg(&["-fn", "a", "b"]).unwrap().overwrite, Overwrite::Skip);
}

#[test]
fn gnu_getopt_conventions() {
    // Unambiguous prefixes, and the last of a repeated option wins.
    assert!(cfg(&["--remove", "a", "b"]).unwrap().remove_destination);
    assert_eq!(
        cfg(&["--reflink=auto", "--reflink=never", "a", "b"])
            .unwrap()
            .reflink,
        Reflink::Never
    );
    let c = cfg(&["--strip-trailing-slashes", "a//", "/", "b/"]).unwrap();
    assert_eq!(c.sources, [PathBuf::from("a"), PathBuf::from("/")]);
    assert!(cfg(&["--context=x", "a", "b"]).unwrap().warnings[0].contains("SELinux"));
    assert!(cfg(&["-Z", "a", "b"]).unwrap().warnings.is_empty());
    assert!(cfg(&["--parent", "a", "b"]).unwrap().parents);
    // -T names DEST itself: --parents has no directory to copy into.
    assert!(cfg(&["--parents", "-T", "a", "b"]).is_err());
}

#[test]
fn progress_lines_and_log_file() {
    let c = cfg(&["--info=progress2", "a", "b"]).unwrap();
    assert!(c.progress_lines);
    // The lines take the bar's place, even when it is asked for.
    assert_eq!(c.progress, When::Never);
    let c = cfg(&["--progress", "--info", "progress2", "a", "b"]).unwrap();
    assert!(c.progress_lines && c.progress == When::Never);
    // -q silences them whatever the order (rsync), and so do -i's questions.
    assert!(
        !cfg(&["--info=progress2", "-q", "a", "b"])
            .unwrap()
            .progress_lines
    );
    assert!(
        !cfg(&["-q", "--info=progress2", "a", "b"])
            .unwrap()
            .progress_lines
    );
    assert!(
        !cfg(&["-i", "--info=progress2", "a", "b"])
            .unwrap()
            .progress_lines
    );
    // Without it the bar is as it was.
    let c = cfg(&["a", "b"]).unwrap();
    assert!(!c.progress_lines && c.progress == When::Auto && c.log_file.is_none());
    // rsync's other --info flags are not taken for this one.
    for bad in ["--info=stats2", "--info=progress2,name0", "--info=progress"] {
        let v = ["uring-cp", bad, "a", "b"];
        let err = crate::cli::parse_from(v).expect_err(bad).to_string();
        let value = bad.trim_start_matches("--info=");
        assert!(err.contains(&format!("'{value}'")), "{bad}: {err}");
    }
    let c = cfg(&["--log-file=/var/log/x", "a", "b"]).unwrap();
    assert_eq!(
        c.log_file.as_deref(),
        Some(std::path::Path::new("/var/log/x"))
    );
}
