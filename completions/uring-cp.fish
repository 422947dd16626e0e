complete -c uring-cp -l preserve -d 'Preserve the listed attributes: mode, ownership, timestamps, links, context, xattr, all (comma-separated; default: mode,ownership,timestamps)' -r
complete -c uring-cp -l no-preserve -d 'Do not preserve the listed attributes (-a, -p, --preserve and --no-preserve apply in command-line order: the last one wins)' -r
complete -c uring-cp -l sparse -d 'Control creation of sparse files: auto (a source with holes keeps them, and its blocks of zeros become holes too, as with cp), always (every file\'s blocks of zeros become holes), never' -r -f -a "auto\t'A source with holes (SEEK_DATA/SEEK_HOLE) keeps them, and its 4 KiB blocks of zeros become holes too; a source without holes is copied as it is'
always\t'Every file\'s 4 KiB blocks of zeros become holes'
never\t'Write every byte; the copy has no holes'"
complete -c uring-cp -l reflink -d 'Control clone/copy-on-write copies: auto (clone each whole file where the filesystem can, as on btrfs and xfs within one filesystem, else copy), always (clone or fail), never. --reflink alone means always' -r -f -a "auto\t'Share the source\'s blocks where the filesystem can (through copy_file_range), else copy'
always\t'Clone every file (FICLONE); fail for a file that cannot be cloned'
never\t'Never share blocks: copy every byte (no copy_file_range)'"
complete -c uring-cp -s b -l backup -d 'Keep each existing destination file that would be replaced as a backup: CONTROL is `simple`/`never` (NAME~), `numbered`/`t` (NAME.~N~), `existing`/`nil` (numbered if numbered backups exist, else simple), or `none`/`off`. Default: $VERSION_CONTROL, else existing (with --sync: simple, as rsync); the last CONTROL given decides. Directories are merged, not backed up (with --sync, a directory that --delete or a file would remove is moved aside whole)' -r
complete -c uring-cp -s S -l suffix -d 'The suffix of simple backups (default: $SIMPLE_BACKUP_SUFFIX, else ~; with --sync: ~, or none with --backup-dir); implies --backup' -r
complete -c uring-cp -l backup-dir -d 'With --sync: backups go into DIR, each at its path relative to DEST (DIR\'s directories are made as needed), instead of beside the original; implies --backup. A relative DIR is inside DEST (rsync\'s rule), and is never deleted by --delete. Must be on DEST\'s filesystem' -r -F
complete -c uring-cp -l files-from -d 'Copy exactly the paths listed in FILE (one per line; `-` is stdin), each relative to the one SOURCE directory, to the same path under DEST, making the directories on the way (implies --relative). As with rsync, -a does not recurse into a listed directory here (it is made); -r does' -r -F
complete -c uring-cp -s t -l target-directory -d 'Copy all SOURCE arguments into DIRECTORY' -r -F
complete -c uring-cp -l max-delete -d 'With --delete: delete at most N entries, each file and directory of a removed tree counted, as rsync; then stop deleting and say how many were kept (exit status 25). --compare-dest\'s removals of files equal to their twins are not counted (as rsync)' -r
complete -c uring-cp -l modify-window -d 'With --sync: modification times at most N seconds apart count as equal (without it, the same second with other nanoseconds is a change where both sides keep nanoseconds)' -r
complete -c uring-cp -l link-dest -d 'With --sync: a file missing or changed at the destination whose twin in DIR is unchanged (quick check, same attributes) is hard-linked to that twin instead of copied (snapshot backups). Relative to DEST; up to 20, tried in order' -r -F
complete -c uring-cp -l clone-dest -d 'With --sync: like --link-dest, but an unchanged twin is cloned (a new inode sharing the twin\'s blocks, FICLONE): snapshots that share space yet never change together. Needs btrfs or xfs (reflink) under DIR and DEST' -r -F
complete -c uring-cp -l compare-dest -d 'With --sync: files whose twin in DIR is unchanged are not copied at all (DEST receives only what differs from DIR). Relative to DEST; up to 20' -r -F
complete -c uring-cp -l copy-dest -d 'With --sync: files whose twin in DIR is unchanged are copied from that twin (a local copy) instead of from SOURCE. Relative to DEST; up to 20' -r -F
complete -c uring-cp -l exclude -d 'Leave out entries matching PATTERN (rsync\'s rules: `*.o`, `cache/`, `/top-only`, `dir/***`); with --include, the first matching rule wins' -r
complete -c uring-cp -l include -d 'Copy entries matching PATTERN even if a later --exclude matches them' -r
complete -c uring-cp -l exclude-from -d 'Read exclude patterns from FILE (`-` for stdin), one per line; `+ PATTERN` includes; blank lines and lines starting with # or ; are skipped' -r -F
complete -c uring-cp -l info -d 'Print the whole run\'s progress on stderr as plain lines, for logs: one a second and a last one at the end, each `BYTES PERCENT RATE ELAPSED (files DONE/FOUND, ETA)`, the percentage of files found (not bytes). No escape codes or carriage returns, terminal or not; it replaces the progress bar, and -q turns it off. rsync\'s spelling: only `progress2`' -r -f -a "progress2\t'The whole run\'s progress as plain lines on stderr'"
complete -c uring-cp -l log-file -d 'Append a record of the run to FILE (created if missing): a line per change (with --sync the --itemize-changes lines, otherwise -v\'s lines), every message printed on stderr, and a summary, each line prefixed with `YYYY/MM/DD HH:MM:SS [PID]` (local time) as rsync\'s. Needs neither -v nor --itemize-changes. If FILE cannot be opened, nothing is copied (exit status 1)' -r -F
complete -c uring-cp -l stats -d 'Print a summary at the end: counts, bytes, time, throughput, engine and io_uring use; `--stats=json` prints it as one JSON object on stdout' -r -f -a "text\t'Lines for people'
json\t'One JSON object for scripts'"
complete -c uring-cp -l engine -d 'Which copy engine to use: io_uring if it works here (auto), or force one' -r -f -a "auto\t'walkers for a copy within one btrfs or xfs filesystem (every file is cloned) and for sources in the page cache (a look at up to 8 files first); for sources that are not, uring-chains for a plain copy (nothing preserved beyond -r), else uring; in sync mode uring; portable where io_uring cannot be used'
uring\t'The io_uring engine (sources read through rings, destinations written by worker threads); fail if io_uring cannot be used'
uring-chains\t'Every step through a ring as linked chains, one ring per worker: fewest system calls, slower on ext4 warm, fastest cold; fail if io_uring cannot be used'
portable\t'Ordinary system calls from a small thread pool'
walkers\t'Ordinary system calls from walkers that each take whole directories and create what they list (no queues): what auto runs for a copy within one btrfs or xfs filesystem, where every file is cloned, and for sources in the page cache. (In sync mode one walker decides, and it runs as portable.)'"
complete -c uring-cp -l ring-reads -d 'How the io_uring engine reads sources: `always` keeps every read on the ring; `auto` switches a worker to plain system calls while its sources come from the page cache and back to the ring when they come from storage (measured no faster on real trees, so not the default)' -r -f -a "auto\t'Ring reads while the sources come from storage, system calls while cached'
always\t'Every source read through the ring'"
complete -c uring-cp -s j -l jobs -d 'Worker threads of the engines (uring-chains: rings, each on its own thread): fewer for a spinning disk, more for a network filesystem [default: two per CPU, at most 16; one per CPU for walkers (a copy within one xfs filesystem, where files are cloned, or of cached sources); one walker within one btrfs filesystem; no more than the files named when there is no tree to copy]' -r
complete -c uring-cp -l buffer-mem -d 'Cap on memory for file data buffers, e.g. 16M, 64K [default: 16M]' -r
complete -c uring-cp -s Z -l context -d 'SELinux security contexts are not supported: -Z is ignored, and --context=CTX is ignored with a warning, as cp does without SELinux' -r
complete -c uring-cp -s r -l recursive -d 'Copy directories recursively'
complete -c uring-cp -s a -l archive -d 'Archive: same as -dR --preserve=all (with quieter reports of attributes the destination cannot hold, as cp -a)'
complete -c uring-cp -s d -d 'Same as --no-dereference --preserve=links'
complete -c uring-cp -s p -d 'Same as --preserve=mode,ownership,timestamps'
complete -c uring-cp -s P -l no-dereference -d 'Never follow symbolic links in SOURCE; copy them as links (the default with -r)'
complete -c uring-cp -s L -l dereference -d 'Always follow symbolic links in SOURCE'
complete -c uring-cp -s H -d 'Follow symbolic links given on the command line, not those found inside trees'
complete -c uring-cp -s f -l force -d 'If an existing destination file cannot be opened, remove it and try again (-n, when also given, wins, as with cp)'
complete -c uring-cp -s n -l no-clobber -d 'Do not overwrite an existing file; skip it and go on (-i and -n: the last one given wins)'
complete -c uring-cp -s i -l interactive -d 'Ask before replacing an existing destination: the question goes to stderr, a line starting with `y` or `Y` on stdin answers yes; anything else keeps the destination. No progress bar is drawn meanwhile'
complete -c uring-cp -l remove-destination -d 'Remove each existing destination file before copying to it (it is replaced by a new file, renamed over it once complete), instead of rewriting it in place'
complete -c uring-cp -s l -l link -d 'Make hard links to the source files instead of copying them (directories are still created; with -r, symlinks are followed unless -P or -a is given)'
complete -c uring-cp -s s -l symbolic-link -d 'Make symbolic links to the source files instead of copying them; a relative SOURCE works only for a destination in the current directory'
complete -c uring-cp -s x -l one-file-system -d 'Stay on the filesystem of each SOURCE: a directory on another one (a mount point) is copied as an empty directory'
complete -c uring-cp -l copy-contents -d 'With -r, read devices and FIFOs as data (as without -r) instead of recreating them. A FIFO blocks the copy until something writes it'
complete -c uring-cp -l attributes-only -d 'Do not copy file data, only the attributes: a new file is made empty, an existing one keeps its data'
complete -c uring-cp -l parents -d 'Use the full source file name under DIRECTORY: `--parents a/b/f DIR` copies to DIR/a/b/f, making the missing directories DIR/a and DIR/a/b (with -p, every directory on the way gets its source\'s attributes)'
complete -c uring-cp -l relative -d '--parents as rsync\'s -R says it: each SOURCE goes to its full name under DEST, from the `/./` in it if there is one (`src/./a/f DEST` copies to DEST/a/f). (-R is cp\'s --recursive.)'
complete -c uring-cp -s 0 -l from0 -d 'With --files-from: the paths in FILE end with a NUL byte, not a newline'
complete -c uring-cp -l strip-trailing-slashes -d 'Remove trailing slashes from each SOURCE'
complete -c uring-cp -s u -l update -d 'Replace an existing destination only when it is older than its source (modification times); with --sync, leave files that are newer at the destination'
complete -c uring-cp -s T -l no-target-directory -d 'Treat DEST as a normal file (or the directory to create), never as a directory to copy into'
complete -c uring-cp -l sync -d 'Make DEST an up-to-date mirror: copy only entries that differ (same size and modification time count as the same), write each changed file to a temporary name and rename it into place when complete'
complete -c uring-cp -l delete -d 'With --sync: remove destination entries that are not in SOURCE (in the directories being synced; excluded ones are kept)'
complete -c uring-cp -l delete-before -d 'With --sync: delete everything to be deleted first, in one pass over the trees, before anything is copied (frees space; implies --delete)'
complete -c uring-cp -l delete-during -d 'With --sync: delete in each directory while the run goes (the default; implies --delete)'
complete -c uring-cp -l delete-after -d 'With --sync: delete only once everything has been copied, so nothing is gone before its replacement is in place (implies --delete). The entries are found during the run, as rsync\'s --delete-delay, which is accepted too'
complete -c uring-cp -l delete-excluded -d 'With --sync: also delete destination entries that --exclude matches (implies --delete; excluded entries are otherwise protected)'
complete -c uring-cp -l numeric-ids -d 'With --sync: accepted for rsync scripts. A local copy keeps numeric user and group IDs anyway (as rsync does between two names of one machine)'
complete -c uring-cp -l size-only -d 'With --sync: files of the same size count as the same'
complete -c uring-cp -s c -l checksum -d 'With --sync: files of the same size are compared by content (both read in full) instead of by modification time'
complete -c uring-cp -l verify -d 'Read every copied file back from the disk (its cached pages dropped after fdatasync) and compare it with its source; a copy that differs is removed and reported (exit status 1). Also without --sync'
complete -c uring-cp -l fsync -d 'Make everything written durable on disk before exiting successfully (one syncfs per destination filesystem at the end; also without --sync)'
complete -c uring-cp -l ignore-existing -d 'With --sync: leave every existing destination entry alone'
complete -c uring-cp -l existing -l ignore-non-existing -d 'With --sync: update only what DEST already has; make nothing new there (no file, symlink or directory; rsync\'s --existing)'
complete -c uring-cp -s I -l ignore-times -d 'With --sync: copy every regular file again, even one whose size and time match (rsync\'s -I; --size-only and --checksum still decide where given)'
complete -c uring-cp -l inplace -d 'With --sync: write changed files in place instead of through a temporary name'
complete -c uring-cp -l dry-run -d 'With --sync: decide and report what would change (see --itemize-changes), change nothing'
complete -c uring-cp -l itemize-changes -d 'With --sync: print one line per change on stdout: ACTION TYPE DETAILS PATH (see the man page)'
complete -c uring-cp -l remove-source-files -d 'With --sync: once a file, symlink or special file is at the destination (copied, or already up to date), remove it from SOURCE (directories stay): a move. A source that changed after it was copied is kept'
complete -c uring-cp -s v -l verbose -d 'Explain what is being done: one line per copied item, as `cp -v` (and with --sync --delete, `removed \'X\'` per entry deleted)'
complete -c uring-cp -l debug -d 'Like -v, and first say which engine copies, with how many workers (io_uring, or portable and why). cp\'s per-file lines on copy offload are not printed'
complete -c uring-cp -l progress -d 'Show a progress bar on stderr from the start (by default it appears on a terminal once a run has lasted a second, unless -v is given)'
complete -c uring-cp -l no-progress -d 'Never show a progress bar'
complete -c uring-cp -s q -l quiet -d 'No progress bar and no notes; errors are still reported'
complete -c uring-cp -s V -l version -d 'Print version information and whether io_uring works on this machine'
complete -c uring-cp -s h -l help -d 'Print help (see more with \'--help\')'
