
use builtin;
use str;

set edit:completion:arg-completer[uring-cp] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'uring-cp'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'uring-cp'= {
            cand --preserve 'Preserve the listed attributes: mode, ownership, timestamps, links, context, xattr, all (comma-separated; default: mode,ownership,timestamps)'
            cand --no-preserve 'Do not preserve the listed attributes (-a, -p, --preserve and --no-preserve apply in command-line order: the last one wins)'
            cand --sparse 'Control creation of sparse files: auto (keep the source''s holes), always (also turn runs of zeros into holes), never'
            cand --reflink 'Control clone/copy-on-write copies: auto (clone each whole file where the filesystem can, as on btrfs and xfs within one filesystem, else copy), always (clone or fail), never. --reflink alone means always'
            cand -b 'Keep each existing destination file that would be replaced as a backup: CONTROL is `simple`/`never` (NAME~), `numbered`/`t` (NAME.~N~), `existing`/`nil` (numbered if numbered backups exist, else simple), or `none`/`off`. Default: $VERSION_CONTROL, else existing. Directories are merged, not backed up'
            cand --backup 'Keep each existing destination file that would be replaced as a backup: CONTROL is `simple`/`never` (NAME~), `numbered`/`t` (NAME.~N~), `existing`/`nil` (numbered if numbered backups exist, else simple), or `none`/`off`. Default: $VERSION_CONTROL, else existing. Directories are merged, not backed up'
            cand -S 'The suffix of simple backups (default: $SIMPLE_BACKUP_SUFFIX, else ~); implies --backup'
            cand --suffix 'The suffix of simple backups (default: $SIMPLE_BACKUP_SUFFIX, else ~); implies --backup'
            cand -t 'Copy all SOURCE arguments into DIRECTORY'
            cand --target-directory 'Copy all SOURCE arguments into DIRECTORY'
            cand --max-delete 'With --delete: delete at most N entries, then stop deleting (exit status 25)'
            cand --modify-window 'With --sync: modification times at most N seconds apart count as equal'
            cand --link-dest 'With --sync: a file missing or changed at the destination whose twin in DIR is unchanged (quick check, same attributes) is hard-linked to that twin instead of copied (snapshot backups). Relative to DEST; up to 20, tried in order'
            cand --clone-dest 'With --sync: like --link-dest, but an unchanged twin is cloned (a new inode sharing the twin''s blocks, FICLONE): snapshots that share space yet never change together. Needs btrfs or xfs (reflink) under DIR and DEST'
            cand --compare-dest 'With --sync: files whose twin in DIR is unchanged are not copied at all (DEST receives only what differs from DIR). Relative to DEST; up to 20'
            cand --copy-dest 'With --sync: files whose twin in DIR is unchanged are copied from that twin (a local copy) instead of from SOURCE. Relative to DEST; up to 20'
            cand --exclude 'Leave out entries matching PATTERN (rsync''s rules: `*.o`, `cache/`, `/top-only`, `dir/***`); with --include, the first matching rule wins'
            cand --include 'Copy entries matching PATTERN even if a later --exclude matches them'
            cand --exclude-from 'Read exclude patterns from FILE (`-` for stdin), one per line; `+ PATTERN` includes; blank lines and lines starting with # or ; are skipped'
            cand --info 'Print the whole run''s progress on stderr as plain lines, for logs: one a second and a last one at the end, each `BYTES PERCENT RATE ELAPSED (files DONE/FOUND, ETA)`, the percentage of files found (not bytes). No escape codes or carriage returns, terminal or not; it replaces the progress bar, and -q turns it off. rsync''s spelling: only `progress2`'
            cand --log-file 'Append a record of the run to FILE (created if missing): a line per change (with --sync the --itemize-changes lines, otherwise -v''s lines), every message printed on stderr, and a summary, each line prefixed with `YYYY/MM/DD HH:MM:SS [PID]` (local time) as rsync''s. Needs neither -v nor --itemize-changes. If FILE cannot be opened, nothing is copied (exit status 1)'
            cand --stats 'Print a summary at the end: counts, bytes, time, throughput, engine and io_uring use; `--stats=json` prints it as one JSON object on stdout'
            cand --engine 'Which copy engine to use: io_uring if it works here (auto), or force one'
            cand --ring-reads 'How the io_uring engine reads sources: `auto` switches a worker to plain system calls while its sources come from the page cache (cheaper there) and back to the ring when they come from storage; `always` keeps every read on the ring'
            cand -j 'Worker threads of the uring and portable engines (uring-chains has one): fewer for a spinning disk, more for a network filesystem [default: two per CPU, at most 16; one per CPU for a copy within one btrfs or xfs filesystem, where files are cloned]'
            cand --jobs 'Worker threads of the uring and portable engines (uring-chains has one): fewer for a spinning disk, more for a network filesystem [default: two per CPU, at most 16; one per CPU for a copy within one btrfs or xfs filesystem, where files are cloned]'
            cand --buffer-mem 'Cap on memory for file data buffers, e.g. 16M, 64K [default: 16M]'
            cand -Z 'SELinux security contexts are not supported: -Z is ignored, and --context=CTX is ignored with a warning, as cp does without SELinux'
            cand --context 'SELinux security contexts are not supported: -Z is ignored, and --context=CTX is ignored with a warning, as cp does without SELinux'
            cand -r 'Copy directories recursively'
            cand --recursive 'Copy directories recursively'
            cand -a 'Archive: same as -dR --preserve=all (with quieter reports of attributes the destination cannot hold, as cp -a)'
            cand --archive 'Archive: same as -dR --preserve=all (with quieter reports of attributes the destination cannot hold, as cp -a)'
            cand -d 'Same as --no-dereference --preserve=links'
            cand -p 'Same as --preserve=mode,ownership,timestamps'
            cand -P 'Never follow symbolic links in SOURCE; copy them as links (the default with -r)'
            cand --no-dereference 'Never follow symbolic links in SOURCE; copy them as links (the default with -r)'
            cand -L 'Always follow symbolic links in SOURCE'
            cand --dereference 'Always follow symbolic links in SOURCE'
            cand -H 'Follow symbolic links given on the command line, not those found inside trees'
            cand -f 'If an existing destination file cannot be opened, remove it and try again (-n, when also given, wins, as with cp)'
            cand --force 'If an existing destination file cannot be opened, remove it and try again (-n, when also given, wins, as with cp)'
            cand -n 'Do not overwrite an existing file; skip it and go on (-i and -n: the last one given wins)'
            cand --no-clobber 'Do not overwrite an existing file; skip it and go on (-i and -n: the last one given wins)'
            cand -i 'Ask before replacing an existing destination: the question goes to stderr, a line starting with `y` or `Y` on stdin answers yes; anything else keeps the destination. No progress bar is drawn meanwhile'
            cand --interactive 'Ask before replacing an existing destination: the question goes to stderr, a line starting with `y` or `Y` on stdin answers yes; anything else keeps the destination. No progress bar is drawn meanwhile'
            cand --remove-destination 'Remove each existing destination file before copying to it (it is replaced by a new file, renamed over it once complete), instead of rewriting it in place'
            cand -l 'Make hard links to the source files instead of copying them (directories are still created; with -r, symlinks are followed unless -P or -a is given)'
            cand --link 'Make hard links to the source files instead of copying them (directories are still created; with -r, symlinks are followed unless -P or -a is given)'
            cand -s 'Make symbolic links to the source files instead of copying them; a relative SOURCE works only for a destination in the current directory'
            cand --symbolic-link 'Make symbolic links to the source files instead of copying them; a relative SOURCE works only for a destination in the current directory'
            cand -x 'Stay on the filesystem of each SOURCE: a directory on another one (a mount point) is copied as an empty directory'
            cand --one-file-system 'Stay on the filesystem of each SOURCE: a directory on another one (a mount point) is copied as an empty directory'
            cand --copy-contents 'With -r, read devices and FIFOs as data (as without -r) instead of recreating them. A FIFO blocks the copy until something writes it'
            cand --attributes-only 'Do not copy file data, only the attributes: a new file is made empty, an existing one keeps its data'
            cand --parents 'Use the full source file name under DIRECTORY: `--parents a/b/f DIR` copies to DIR/a/b/f, making the missing directories DIR/a and DIR/a/b (with -p, every directory on the way gets its source''s attributes)'
            cand --strip-trailing-slashes 'Remove trailing slashes from each SOURCE'
            cand -u 'Replace an existing destination only when it is older than its source (modification times); with --sync, leave files that are newer at the destination'
            cand --update 'Replace an existing destination only when it is older than its source (modification times); with --sync, leave files that are newer at the destination'
            cand -T 'Treat DEST as a normal file (or the directory to create), never as a directory to copy into'
            cand --no-target-directory 'Treat DEST as a normal file (or the directory to create), never as a directory to copy into'
            cand --sync 'Make DEST an up-to-date mirror: copy only entries that differ (same size and modification time count as the same), write each changed file to a temporary name and rename it into place when complete'
            cand --delete 'With --sync: remove destination entries that are not in SOURCE (in the directories being synced; excluded ones are kept)'
            cand --delete-excluded 'With --sync: also delete destination entries that --exclude matches (implies --delete; excluded entries are otherwise protected)'
            cand --numeric-ids 'With --sync: accepted for rsync scripts. A local copy keeps numeric user and group IDs anyway (as rsync does between two names of one machine)'
            cand --size-only 'With --sync: files of the same size count as the same'
            cand -c 'With --sync: files of the same size are compared by content (both read in full) instead of by modification time'
            cand --checksum 'With --sync: files of the same size are compared by content (both read in full) instead of by modification time'
            cand --verify 'Read every copied file back from the disk (its cached pages dropped after fdatasync) and compare it with its source; a copy that differs is removed and reported (exit status 1). Also without --sync'
            cand --fsync 'Make everything written durable on disk before exiting successfully (one syncfs per destination filesystem at the end; also without --sync)'
            cand --ignore-existing 'With --sync: leave every existing destination entry alone'
            cand --inplace 'With --sync: write changed files in place instead of through a temporary name'
            cand --dry-run 'With --sync: decide and report what would change (see --itemize-changes), change nothing'
            cand --itemize-changes 'With --sync: print one line per change on stdout: ACTION TYPE DETAILS PATH (see the man page)'
            cand --remove-source-files 'With --sync: once a file, symlink or special file is at the destination (copied, or already up to date), remove it from SOURCE (directories stay): a move. A source that changed after it was copied is kept'
            cand -v 'Explain what is being done: one line per copied item, as `cp -v`'
            cand --verbose 'Explain what is being done: one line per copied item, as `cp -v`'
            cand --debug 'Like -v, and first say which engine copies, with how many workers (io_uring, or portable and why). cp''s per-file lines on copy offload are not printed'
            cand --progress 'Show a progress bar on stderr from the start (by default it appears on a terminal once a run has lasted a second, unless -v is given)'
            cand --no-progress 'Never show a progress bar'
            cand -q 'No progress bar and no notes; errors are still reported'
            cand --quiet 'No progress bar and no notes; errors are still reported'
            cand -V 'Print version information and whether io_uring works on this machine'
            cand --version 'Print version information and whether io_uring works on this machine'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
    ]
    $completions[$command]
}
