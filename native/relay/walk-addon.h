/* Registers walk() (walk-addon.c) on the addon's exports. */
#ifndef DVM_WALK_ADDON_H
#define DVM_WALK_ADDON_H

#include <node_api.h>
#include <stdbool.h>

bool walk_export(napi_env env, napi_value exports);

#endif
