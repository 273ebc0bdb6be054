// Package ci holds the example repository of offsetctl's team path: the
// configuration (offsets/), a policy placeholder, allowed_signers,
// CODEOWNERS, and the GitHub and GitLab workflows that plan in the pull
// request and apply the reviewed plan on merge (README.md).
//
// Its test checks those workflows, the repository's action.yml, its
// reusable workflow and its GitLab template: the GitHub files with
// actionlint, the GitLab files against a subset of GitLab's CI syntax
// written as a JSON Schema (testdata/gitlab-ci.subset.schema.json).
package ci
