// ett-mem.node: a daemon's give-back of memory once a load has passed (src/cli/memory.ts).
//   lowMemory()     V8's Isolate::LowMemoryNotification(): full collections that also shrink the young
//                   generation to its smallest and compact the old one (not reachable from JavaScript)
//   trim() → bool   glibc's malloc_trim(0): free pages inside every arena go back to the kernel; true if
//                   any did
//   info() → { arena, mmapped, inUse, free, topFree }   glibc's mallinfo2(), bytes: taken from the system
//                   by the arenas (arena), in mmap'd chunks (mmapped), allocated (inUse), free in the
//                   arenas (free), free at the top of the main one (topFree)
// C++ for V8's API (headers that come with this Node, so the build matches the Node that loads it); the
// rest is N-API. glibc only (malloc_trim and mallinfo2, 2.33+, are GNU extensions): elsewhere the build
// fails, leaves UNAVAILABLE-mem, and ett runs without giving memory back.
#include <malloc.h>
#include <node_api.h>
#include <v8.h>

#if !defined(__GLIBC__) || !__GLIBC_PREREQ(2, 33)
#error "malloc_trim and mallinfo2 need glibc 2.33 or later"
#endif

static napi_value low_memory(napi_env, napi_callback_info) {
  v8::Isolate::GetCurrent()->LowMemoryNotification();
  return nullptr;
}

static napi_value trim(napi_env env, napi_callback_info) {
  napi_value r;
  napi_get_boolean(env, malloc_trim(0) == 1, &r);
  return r;
}

static void set(napi_env env, napi_value obj, const char *key, size_t v) {
  napi_value n;
  napi_create_double(env, static_cast<double>(v), &n);
  napi_set_named_property(env, obj, key, n);
}

static napi_value info(napi_env env, napi_callback_info) {
  struct mallinfo2 m = mallinfo2();
  napi_value r;
  napi_create_object(env, &r);
  set(env, r, "arena", m.arena);
  set(env, r, "mmapped", m.hblkhd);
  set(env, r, "inUse", m.uordblks);
  set(env, r, "free", m.fordblks);
  set(env, r, "topFree", m.keepcost);
  return r;
}

static void add(napi_env env, napi_value exports, const char *name, napi_callback f) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, f, nullptr, &fn);
  napi_set_named_property(env, exports, name, fn);
}

NAPI_MODULE_INIT() {
  add(env, exports, "lowMemory", low_memory);
  add(env, exports, "trim", trim);
  add(env, exports, "info", info);
  return exports;
}
