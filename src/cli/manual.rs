//! The man page's sections beyond the options, kept beside the clap
//! definitions so that `tests/generated_docs.rs` renders them into
//! `man/uring-cp.1` with the rest.

/// One paragraph of a section.
pub enum Para {
    /// Running text.
    Text(&'static str),
    /// A term and its description (an indented list entry).
    Item(&'static str, &'static str),
    /// Lines shown as typed, e.g. a shell example.
    Example(&'static [&'static str]),
}

use Para::{Example, Item, Text};

/// (section title, paragraphs), in order.
pub const SECTIONS: &[(&str, &[Para])] = &[
    (
        "EXIT STATUS",
        &[
            Item("0", "Everything was copied."),
            Item(
                "1",
                "At least one item failed or was refused; each is reported on stderr with its \
                 path, the operation and the reason, and the rest is still copied. Also when \
                 --engine uring or uring-chains is forced where io_uring cannot be used.",
            ),
            Item(
                "2",
                "Usage error: unknown option, missing operand, bad --buffer-mem value, \
                 --parents without a directory to copy into.",
            ),
            Item(
                "25",
                "--max-delete stopped the deletions; nothing else failed.",
            ),
            Item(
                "24",
                "Nothing failed, but source files listed by the walk were gone when they were \
                 reached (a tree changing during the copy); each is reported. rsync uses the \
                 same status for this.",
            ),
            Item(
                "130, 143",
                "Interrupted by SIGINT or SIGTERM: the files being written were removed, every \
                 file left is complete. A second signal ends the run at once.",
            ),
        ],
    ),
    (
        "SYNC MODE",
        &[
            Text(
                "--sync makes DEST an up-to-date mirror of SOURCE: an entry whose size and \
                 modification time (in whole seconds, --modify-window apart at most) match is \
                 left alone (--checksum compares the contents of same-size files instead; -u \
                 leaves files newer at the destination); every file written goes to a temporary name .~ucp.NAME.PID-N in \
                 its directory and is renamed over the old one when complete (--inplace \
                 writes in place). Temporaries left by a killed run are removed by the next \
                 sync. --delete removes what the source no longer has, except entries the \
                 filter excludes; --max-delete=N stops after N entries (each file and \
                 directory of a removed tree counted, as rsync).",
            ),
            Text(
                "Snapshot backups: --link-dest=DIR hard-links each file whose twin in DIR (the \
                 same path; a relative DIR is inside DEST, as with rsync) is unchanged: the \
                 same size and modification time (or contents, with --checksum) and the same \
                 preserved attributes; everything else is copied. Up to 20 DIRs are tried in \
                 order; one that does not exist is a warning. --clone-dest=DIR does the same \
                 with clones (FICLONE): each snapshot's files are their own inodes sharing \
                 blocks with the last one, so a chmod or an in-place write in one snapshot \
                 never shows in another; it needs btrfs or xfs and is refused elsewhere. \
                 --compare-dest=DIR leaves unchanged files out of DEST (removing them there, as \
                 rsync does); --copy-dest=DIR copies them from DIR instead of SOURCE. One kind \
                 per run.",
            ),
            Example(&["uring-cp -a --sync --delete --link-dest=../daily.1 -T ~/ /backup/daily.0"]),
            Text(
                "--itemize-changes prints one line per change: ACTION TYPE DETAILS PATH, with \
                 ACTION new, update, attrs, replace, link, delete, or linked, cloned, copied \
                 (taken from a --link-dest, --clone-dest or --copy-dest twin); TYPE file, dir, symlink \
                 or special; DETAILS - or a comma list of size, content, time, perms, owner, \
                 xattrs, or was-TYPE; \
                 PATH the destination path, quoted as in -v. --dry-run prints the same lines \
                 and changes nothing.",
            ),
            Text(
                "--remove-source-files removes each source file, symlink or special file once \
                 it is at the destination (copied, or already up to date), if it is still \
                 what was copied; directories stay. A source that changed meanwhile is kept \
                 and reported.",
            ),
            Text(
                "--verify (also without --sync) reads every copied file back from the disk \
                 (written out with fdatasync, its cached pages dropped) and compares it byte \
                 for byte with its source before reporting it; a copy that differs is \
                 removed (in sync mode the old file stays) and the run exits 1.",
            ),
            Text(
                "--fsync (also without --sync) makes everything written durable before a \
                 successful exit: one syncfs per destination filesystem at the end.",
            ),
            Example(&["uring-cp -a --sync --delete --itemize-changes -T ~/src /backup/src"]),
        ],
    ),
    (
        "ENGINES",
        &[
            Text(
                "uring-cp picks its engine at start-up; --debug says which and why. With \
                 --engine auto (the default): walkers for a copy within one btrfs or xfs \
                 filesystem (every file is cloned) and for sources in the page cache; for \
                 sources that must come from storage, uring-chains (uring when attributes \
                 are kept, as with -a), with two more threads reading the directories ahead \
                 of the walk; in sync mode, uring (listing ahead likewise). Where io_uring \
                 is blocked (container \
                 seccomp profiles, kernel.io_uring_disabled, old kernels, locked-memory \
                 limits) the portable engine runs instead, with the same behaviour.",
            ),
            Item(
                "uring",
                "Several workers, each with its own ring. Sources are opened and read through \
                 the ring (many files per system call, deep queues when the data must come \
                 from storage); destinations are written with system calls, because on ext4 \
                 the kernel hands every create and buffered write queued on a ring to a worker \
                 thread. Large files go to whichever worker is free (--ring-reads auto: \
                 copy with system calls while the sources come from the page cache).",
            ),
            Item(
                "uring-chains",
                "Every step of every file as linked requests on a ring, one ring per worker \
                 (-j): the fewest system calls; slower on ext4 while sources are cached, the \
                 fastest from a cold disk. Files of 16 MiB and up are moved by the kernel \
                 (sendfile) instead.",
            ),
            Item(
                "portable",
                "The same workers with ordinary system calls: a clone or copy_file_range \
                 within a filesystem, sendfile between filesystems, read and write where \
                 neither works.",
            ),
            Item(
                "walkers",
                "-j threads that each take whole directories and create what they list with \
                 system calls, no queues between them: the least CPU per file, so the \
                 fastest for clones and for sources in the page cache.",
            ),
        ],
    ),
    (
        "EXAMPLES",
        &[
            Text("Copy a tree (as cp -r): creates backup, or backup/src if backup is a directory."),
            Example(&["uring-cp -r src backup"]),
            Text("Copy the contents of src into an existing directory dst."),
            Example(&["uring-cp -r src/. dst"]),
            Text("Copy several sources into a directory, listing what is copied."),
            Example(&["uring-cp -rv -t /mnt/usb notes photos todo.txt"]),
            Text(
                "In a backup script: never overwrite what is there, keep going past failures, \
                 and record a summary for the log.",
            ),
            Example(&[
                "if ! uring-cp -rn --no-progress --stats=json \"$HOME/projects\" /backup/ > /var/log/backup.json; then",
                "    echo \"some files were not copied, see above\" >&2",
                "fi",
            ]),
            Text(
                "A nightly mirror from cron: the changes, errors and a summary appended to a \
                 log (stamped lines, as rsync's --log-file), and the progress as plain lines \
                 (rsync's --info=progress2 columns; the percentage is of files) to another.",
            ),
            Example(&[
                "uring-cp -a --sync --delete --log-file=/var/log/backup.log --info=progress2 \\",
                "    -T \"$HOME\" /backup/home 2>>/var/log/backup-progress.log",
            ]),
        ],
    ),
    (
        "ENVIRONMENT",
        &[Text(
            "uring-cp reads no environment variables of its own. Messages are in English; \
             file names in them are quoted as GNU cp quotes them. The progress bar is drawn \
             only when stderr is a terminal.",
        )],
    ),
];
