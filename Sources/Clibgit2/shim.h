#ifndef BISECT_DEPLOY_CLIBGIT2_SHIM_H
#define BISECT_DEPLOY_CLIBGIT2_SHIM_H
#include <git2.h>
/* git_repository_set_index: a second handle on the repository with the tool's own index. */
#include <git2/sys/repository.h>

/* git_libgit2_opts is variadic, which Swift cannot call: one fixed-argument wrapper per use. */

/* Turns libgit2's object cache on or off; returns libgit2's code. */
static inline int bisect_deploy_set_object_cache(int enabled) {
  return git_libgit2_opts(GIT_OPT_ENABLE_CACHING, enabled);
}

/* Turns libgit2's re-hashing of every object read on or off; returns libgit2's code. */
static inline int bisect_deploy_set_strict_hash_verification(int enabled) {
  return git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, enabled);
}

#endif
