// Package workspace prepares the folder each CI job runs in ($CI_PROJECT_DIR)
// for the local runner and its shell executor.
//
// A run starts with one [Snapshot] of the repository: the files a GitLab job
// would see (the working tree's tracked and untracked-but-not-ignored files,
// so uncommitted edits are tested, or a clean checkout of HEAD), hard-linked
// rather than copied so that taking it costs metadata only. Each job then gets
// a [Workspace]: an overlay filesystem whose lower layer is the snapshot and
// whose upper layer belongs to the job alone, so writes are copy-on-write and
// preparing a job does not copy the repository again; restored caches and
// artifacts can be laid in as further read-only layers ([Workspace.AddLayer]).
// The overlay is mounted only inside a private mount namespace created for
// each command, so nothing stays mounted on the host and sibling jobs'
// folders are hidden from the job: as root, on a thread of this process made
// for it ([Workspace.Start]); otherwise in a user namespace, by this binary
// re-executed as a sandbox ([MaybeRunSandbox]).
//
// When namespaces or overlayfs are unavailable, or when the environment
// variable GANTRY_WORKSPACE is "copy", every job gets a real copy of the
// snapshot instead; both modes behave the same for the job except that a job
// can then see its siblings' folders.
package workspace
