
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'uring-cp' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'uring-cp'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'uring-cp' {
            [CompletionResult]::new('--preserve', '--preserve', [CompletionResultType]::ParameterName, 'Preserve the listed attributes: mode, ownership, timestamps, links, context, xattr, all (comma-separated; default: mode,ownership,timestamps)')
            [CompletionResult]::new('--no-preserve', '--no-preserve', [CompletionResultType]::ParameterName, 'Do not preserve the listed attributes (-a, -p, --preserve and --no-preserve apply in command-line order: the last one wins)')
            [CompletionResult]::new('--sparse', '--sparse', [CompletionResultType]::ParameterName, 'Control creation of sparse files: auto (a source with holes keeps them, and its blocks of zeros become holes too, as with cp), always (every file''s blocks of zeros become holes), never')
            [CompletionResult]::new('--reflink', '--reflink', [CompletionResultType]::ParameterName, 'Control clone/copy-on-write copies: auto (clone each whole file where the filesystem can, as on btrfs and xfs within one filesystem, else copy), always (clone or fail), never. --reflink alone means always')
            [CompletionResult]::new('-b', '-b', [CompletionResultType]::ParameterName, 'Keep each existing destination file that would be replaced as a backup: CONTROL is `simple`/`never` (NAME~), `numbered`/`t` (NAME.~N~), `existing`/`nil` (numbered if numbered backups exist, else simple), or `none`/`off`. Default: $VERSION_CONTROL, else existing (with --sync: simple, as rsync); the last CONTROL given decides. Directories are merged, not backed up (with --sync, a directory that --delete or a file would remove is moved aside whole)')
            [CompletionResult]::new('--backup', '--backup', [CompletionResultType]::ParameterName, 'Keep each existing destination file that would be replaced as a backup: CONTROL is `simple`/`never` (NAME~), `numbered`/`t` (NAME.~N~), `existing`/`nil` (numbered if numbered backups exist, else simple), or `none`/`off`. Default: $VERSION_CONTROL, else existing (with --sync: simple, as rsync); the last CONTROL given decides. Directories are merged, not backed up (with --sync, a directory that --delete or a file would remove is moved aside whole)')
            [CompletionResult]::new('-S', '-S ', [CompletionResultType]::ParameterName, 'The suffix of simple backups (default: $SIMPLE_BACKUP_SUFFIX, else ~; with --sync: ~, or none with --backup-dir); implies --backup')
            [CompletionResult]::new('--suffix', '--suffix', [CompletionResultType]::ParameterName, 'The suffix of simple backups (default: $SIMPLE_BACKUP_SUFFIX, else ~; with --sync: ~, or none with --backup-dir); implies --backup')
            [CompletionResult]::new('--backup-dir', '--backup-dir', [CompletionResultType]::ParameterName, 'With --sync: backups go into DIR, each at its path relative to DEST (DIR''s directories are made as needed), instead of beside the original; implies --backup. A relative DIR is inside DEST (rsync''s rule), and is never deleted by --delete. Must be on DEST''s filesystem')
            [CompletionResult]::new('--files-from', '--files-from', [CompletionResultType]::ParameterName, 'Copy exactly the paths listed in FILE (one per line; `-` is stdin), each relative to the one SOURCE directory, to the same path under DEST, making the directories on the way (implies --relative). As with rsync, -a does not recurse into a listed directory here (it is made); -r does')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Copy all SOURCE arguments into DIRECTORY')
            [CompletionResult]::new('--target-directory', '--target-directory', [CompletionResultType]::ParameterName, 'Copy all SOURCE arguments into DIRECTORY')
            [CompletionResult]::new('--max-delete', '--max-delete', [CompletionResultType]::ParameterName, 'With --delete: delete at most N entries, each file and directory of a removed tree counted, as rsync; then stop deleting and say how many were kept (exit status 25). --compare-dest''s removals of files equal to their twins are not counted (as rsync)')
            [CompletionResult]::new('--modify-window', '--modify-window', [CompletionResultType]::ParameterName, 'With --sync: modification times at most N seconds apart count as equal (without it, the same second with other nanoseconds is a change where both sides keep nanoseconds)')
            [CompletionResult]::new('--link-dest', '--link-dest', [CompletionResultType]::ParameterName, 'With --sync: a file missing or changed at the destination whose twin in DIR is unchanged (quick check, same attributes) is hard-linked to that twin instead of copied (snapshot backups). Relative to DEST; up to 20, tried in order')
            [CompletionResult]::new('--clone-dest', '--clone-dest', [CompletionResultType]::ParameterName, 'With --sync: like --link-dest, but an unchanged twin is cloned (a new inode sharing the twin''s blocks, FICLONE): snapshots that share space yet never change together. Needs btrfs or xfs (reflink) under DIR and DEST')
            [CompletionResult]::new('--compare-dest', '--compare-dest', [CompletionResultType]::ParameterName, 'With --sync: files whose twin in DIR is unchanged are not copied at all (DEST receives only what differs from DIR). Relative to DEST; up to 20')
            [CompletionResult]::new('--copy-dest', '--copy-dest', [CompletionResultType]::ParameterName, 'With --sync: files whose twin in DIR is unchanged are copied from that twin (a local copy) instead of from SOURCE. Relative to DEST; up to 20')
            [CompletionResult]::new('--exclude', '--exclude', [CompletionResultType]::ParameterName, 'Leave out entries matching PATTERN (rsync''s rules: `*.o`, `cache/`, `/top-only`, `dir/***`); with --include, the first matching rule wins')
            [CompletionResult]::new('--include', '--include', [CompletionResultType]::ParameterName, 'Copy entries matching PATTERN even if a later --exclude matches them')
            [CompletionResult]::new('--exclude-from', '--exclude-from', [CompletionResultType]::ParameterName, 'Read exclude patterns from FILE (`-` for stdin), one per line; `+ PATTERN` includes; blank lines and lines starting with # or ; are skipped')
            [CompletionResult]::new('--info', '--info', [CompletionResultType]::ParameterName, 'Print the whole run''s progress on stderr as plain lines, for logs: one a second and a last one at the end, each `BYTES PERCENT RATE ELAPSED (files DONE/FOUND, ETA)`, the percentage of files found (not bytes). No escape codes or carriage returns, terminal or not; it replaces the progress bar, and -q turns it off. rsync''s spelling: only `progress2`')
            [CompletionResult]::new('--log-file', '--log-file', [CompletionResultType]::ParameterName, 'Append a record of the run to FILE (created if missing): a line per change (with --sync the --itemize-changes lines, otherwise -v''s lines), every message printed on stderr, and a summary, each line prefixed with `YYYY/MM/DD HH:MM:SS [PID]` (local time) as rsync''s. Needs neither -v nor --itemize-changes. If FILE cannot be opened, nothing is copied (exit status 1)')
            [CompletionResult]::new('--stats', '--stats', [CompletionResultType]::ParameterName, 'Print a summary at the end: counts, bytes, time, throughput, engine and io_uring use; `--stats=json` prints it as one JSON object on stdout')
            [CompletionResult]::new('--engine', '--engine', [CompletionResultType]::ParameterName, 'Which copy engine to use: io_uring if it works here (auto), or force one')
            [CompletionResult]::new('--ring-reads', '--ring-reads', [CompletionResultType]::ParameterName, 'How the io_uring engine reads sources: `always` keeps every read on the ring; `auto` switches a worker to plain system calls while its sources come from the page cache and back to the ring when they come from storage (measured no faster on real trees, so not the default)')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Worker threads of the engines (uring-chains: rings, each on its own thread): fewer for a spinning disk, more for a network filesystem [default: two per CPU, at most 16; one per CPU for walkers (a copy within one xfs filesystem, where files are cloned, or of cached sources); one walker within one btrfs filesystem; no more than the files named when there is no tree to copy]')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Worker threads of the engines (uring-chains: rings, each on its own thread): fewer for a spinning disk, more for a network filesystem [default: two per CPU, at most 16; one per CPU for walkers (a copy within one xfs filesystem, where files are cloned, or of cached sources); one walker within one btrfs filesystem; no more than the files named when there is no tree to copy]')
            [CompletionResult]::new('--buffer-mem', '--buffer-mem', [CompletionResultType]::ParameterName, 'Cap on memory for file data buffers, e.g. 16M, 64K [default: 16M]')
            [CompletionResult]::new('-Z', '-Z ', [CompletionResultType]::ParameterName, 'SELinux security contexts are not supported: -Z is ignored, and --context=CTX is ignored with a warning, as cp does without SELinux')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'SELinux security contexts are not supported: -Z is ignored, and --context=CTX is ignored with a warning, as cp does without SELinux')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Copy directories recursively')
            [CompletionResult]::new('--recursive', '--recursive', [CompletionResultType]::ParameterName, 'Copy directories recursively')
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'Archive: same as -dR --preserve=all (with quieter reports of attributes the destination cannot hold, as cp -a)')
            [CompletionResult]::new('--archive', '--archive', [CompletionResultType]::ParameterName, 'Archive: same as -dR --preserve=all (with quieter reports of attributes the destination cannot hold, as cp -a)')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Same as --no-dereference --preserve=links')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Same as --preserve=mode,ownership,timestamps')
            [CompletionResult]::new('-P', '-P ', [CompletionResultType]::ParameterName, 'Never follow symbolic links in SOURCE; copy them as links (the default with -r)')
            [CompletionResult]::new('--no-dereference', '--no-dereference', [CompletionResultType]::ParameterName, 'Never follow symbolic links in SOURCE; copy them as links (the default with -r)')
            [CompletionResult]::new('-L', '-L ', [CompletionResultType]::ParameterName, 'Always follow symbolic links in SOURCE')
            [CompletionResult]::new('--dereference', '--dereference', [CompletionResultType]::ParameterName, 'Always follow symbolic links in SOURCE')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Follow symbolic links given on the command line, not those found inside trees')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'If an existing destination file cannot be opened, remove it and try again (-n, when also given, wins, as with cp)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'If an existing destination file cannot be opened, remove it and try again (-n, when also given, wins, as with cp)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Do not overwrite an existing file; skip it and go on (-i and -n: the last one given wins)')
            [CompletionResult]::new('--no-clobber', '--no-clobber', [CompletionResultType]::ParameterName, 'Do not overwrite an existing file; skip it and go on (-i and -n: the last one given wins)')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Ask before replacing an existing destination: the question goes to stderr, a line starting with `y` or `Y` on stdin answers yes; anything else keeps the destination. No progress bar is drawn meanwhile')
            [CompletionResult]::new('--interactive', '--interactive', [CompletionResultType]::ParameterName, 'Ask before replacing an existing destination: the question goes to stderr, a line starting with `y` or `Y` on stdin answers yes; anything else keeps the destination. No progress bar is drawn meanwhile')
            [CompletionResult]::new('--remove-destination', '--remove-destination', [CompletionResultType]::ParameterName, 'Remove each existing destination file before copying to it (it is replaced by a new file, renamed over it once complete), instead of rewriting it in place')
            [CompletionResult]::new('-l', '-l', [CompletionResultType]::ParameterName, 'Make hard links to the source files instead of copying them (directories are still created; with -r, symlinks are followed unless -P or -a is given)')
            [CompletionResult]::new('--link', '--link', [CompletionResultType]::ParameterName, 'Make hard links to the source files instead of copying them (directories are still created; with -r, symlinks are followed unless -P or -a is given)')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Make symbolic links to the source files instead of copying them; a relative SOURCE works only for a destination in the current directory')
            [CompletionResult]::new('--symbolic-link', '--symbolic-link', [CompletionResultType]::ParameterName, 'Make symbolic links to the source files instead of copying them; a relative SOURCE works only for a destination in the current directory')
            [CompletionResult]::new('-x', '-x', [CompletionResultType]::ParameterName, 'Stay on the filesystem of each SOURCE: a directory on another one (a mount point) is copied as an empty directory')
            [CompletionResult]::new('--one-file-system', '--one-file-system', [CompletionResultType]::ParameterName, 'Stay on the filesystem of each SOURCE: a directory on another one (a mount point) is copied as an empty directory')
            [CompletionResult]::new('--copy-contents', '--copy-contents', [CompletionResultType]::ParameterName, 'With -r, read devices and FIFOs as data (as without -r) instead of recreating them. A FIFO blocks the copy until something writes it')
            [CompletionResult]::new('--attributes-only', '--attributes-only', [CompletionResultType]::ParameterName, 'Do not copy file data, only the attributes: a new file is made empty, an existing one keeps its data')
            [CompletionResult]::new('--parents', '--parents', [CompletionResultType]::ParameterName, 'Use the full source file name under DIRECTORY: `--parents a/b/f DIR` copies to DIR/a/b/f, making the missing directories DIR/a and DIR/a/b (with -p, every directory on the way gets its source''s attributes)')
            [CompletionResult]::new('--relative', '--relative', [CompletionResultType]::ParameterName, '--parents as rsync''s -R says it: each SOURCE goes to its full name under DEST, from the `/./` in it if there is one (`src/./a/f DEST` copies to DEST/a/f). (-R is cp''s --recursive.)')
            [CompletionResult]::new('-0', '-0', [CompletionResultType]::ParameterName, 'With --files-from: the paths in FILE end with a NUL byte, not a newline')
            [CompletionResult]::new('--from0', '--from0', [CompletionResultType]::ParameterName, 'With --files-from: the paths in FILE end with a NUL byte, not a newline')
            [CompletionResult]::new('--strip-trailing-slashes', '--strip-trailing-slashes', [CompletionResultType]::ParameterName, 'Remove trailing slashes from each SOURCE')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'Replace an existing destination only when it is older than its source (modification times); with --sync, leave files that are newer at the destination')
            [CompletionResult]::new('--update', '--update', [CompletionResultType]::ParameterName, 'Replace an existing destination only when it is older than its source (modification times); with --sync, leave files that are newer at the destination')
            [CompletionResult]::new('-T', '-T ', [CompletionResultType]::ParameterName, 'Treat DEST as a normal file (or the directory to create), never as a directory to copy into')
            [CompletionResult]::new('--no-target-directory', '--no-target-directory', [CompletionResultType]::ParameterName, 'Treat DEST as a normal file (or the directory to create), never as a directory to copy into')
            [CompletionResult]::new('--sync', '--sync', [CompletionResultType]::ParameterName, 'Make DEST an up-to-date mirror: copy only entries that differ (same size and modification time count as the same), write each changed file to a temporary name and rename it into place when complete')
            [CompletionResult]::new('--delete', '--delete', [CompletionResultType]::ParameterName, 'With --sync: remove destination entries that are not in SOURCE (in the directories being synced; excluded ones are kept)')
            [CompletionResult]::new('--delete-before', '--delete-before', [CompletionResultType]::ParameterName, 'With --sync: delete everything to be deleted first, in one pass over the trees, before anything is copied (frees space; implies --delete)')
            [CompletionResult]::new('--delete-during', '--delete-during', [CompletionResultType]::ParameterName, 'With --sync: delete in each directory while the run goes (the default; implies --delete)')
            [CompletionResult]::new('--delete-after', '--delete-after', [CompletionResultType]::ParameterName, 'With --sync: delete only once everything has been copied, so nothing is gone before its replacement is in place (implies --delete). The entries are found during the run, as rsync''s --delete-delay, which is accepted too')
            [CompletionResult]::new('--delete-excluded', '--delete-excluded', [CompletionResultType]::ParameterName, 'With --sync: also delete destination entries that --exclude matches (implies --delete; excluded entries are otherwise protected)')
            [CompletionResult]::new('--numeric-ids', '--numeric-ids', [CompletionResultType]::ParameterName, 'With --sync: accepted for rsync scripts. A local copy keeps numeric user and group IDs anyway (as rsync does between two names of one machine)')
            [CompletionResult]::new('--size-only', '--size-only', [CompletionResultType]::ParameterName, 'With --sync: files of the same size count as the same')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'With --sync: files of the same size are compared by content (both read in full) instead of by modification time')
            [CompletionResult]::new('--checksum', '--checksum', [CompletionResultType]::ParameterName, 'With --sync: files of the same size are compared by content (both read in full) instead of by modification time')
            [CompletionResult]::new('--verify', '--verify', [CompletionResultType]::ParameterName, 'Read every copied file back from the disk (its cached pages dropped after fdatasync) and compare it with its source; a copy that differs is removed and reported (exit status 1). Also without --sync')
            [CompletionResult]::new('--fsync', '--fsync', [CompletionResultType]::ParameterName, 'Make everything written durable on disk before exiting successfully (one syncfs per destination filesystem at the end; also without --sync)')
            [CompletionResult]::new('--ignore-existing', '--ignore-existing', [CompletionResultType]::ParameterName, 'With --sync: leave every existing destination entry alone')
            [CompletionResult]::new('--existing', '--existing', [CompletionResultType]::ParameterName, 'With --sync: update only what DEST already has; make nothing new there (no file, symlink or directory; rsync''s --existing)')
            [CompletionResult]::new('--ignore-non-existing', '--ignore-non-existing', [CompletionResultType]::ParameterName, 'With --sync: update only what DEST already has; make nothing new there (no file, symlink or directory; rsync''s --existing)')
            [CompletionResult]::new('-I', '-I ', [CompletionResultType]::ParameterName, 'With --sync: copy every regular file again, even one whose size and time match (rsync''s -I; --size-only and --checksum still decide where given)')
            [CompletionResult]::new('--ignore-times', '--ignore-times', [CompletionResultType]::ParameterName, 'With --sync: copy every regular file again, even one whose size and time match (rsync''s -I; --size-only and --checksum still decide where given)')
            [CompletionResult]::new('--inplace', '--inplace', [CompletionResultType]::ParameterName, 'With --sync: write changed files in place instead of through a temporary name')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'With --sync: decide and report what would change (see --itemize-changes), change nothing')
            [CompletionResult]::new('--itemize-changes', '--itemize-changes', [CompletionResultType]::ParameterName, 'With --sync: print one line per change on stdout: ACTION TYPE DETAILS PATH (see the man page)')
            [CompletionResult]::new('--remove-source-files', '--remove-source-files', [CompletionResultType]::ParameterName, 'With --sync: once a file, symlink or special file is at the destination (copied, or already up to date), remove it from SOURCE (directories stay): a move. A source that changed after it was copied is kept')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Explain what is being done: one line per copied item, as `cp -v` (and with --sync --delete, `removed ''X''` per entry deleted)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Explain what is being done: one line per copied item, as `cp -v` (and with --sync --delete, `removed ''X''` per entry deleted)')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Like -v, and first say which engine copies, with how many workers (io_uring, or portable and why). cp''s per-file lines on copy offload are not printed')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show a progress bar on stderr from the start (by default it appears on a terminal once a run has lasted a second, unless -v is given)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never show a progress bar')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bar and no notes; errors are still reported')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bar and no notes; errors are still reported')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version information and whether io_uring works on this machine')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version information and whether io_uring works on this machine')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
