/* Stub of miniaudio for building Ollama without its vendored audio decoder
   (Go module zips omit vendor/ directories). Audio input always fails. */
#pragma once
#include <stddef.h>
typedef int ma_result;
typedef unsigned long long ma_uint64;
#define MA_SUCCESS 0
typedef enum { ma_format_f32 = 5 } ma_format;
typedef struct { int unused; } ma_decoder_config;
typedef struct { int unused; } ma_decoder;
static inline ma_decoder_config ma_decoder_config_init(ma_format f, int ch, int rate) { (void)f; (void)ch; (void)rate; ma_decoder_config c = {0}; return c; }
static inline ma_result ma_decoder_init_memory(const void *b, size_t n, const ma_decoder_config *c, ma_decoder *d) { (void)b; (void)n; (void)c; (void)d; return -1; }
static inline ma_result ma_decoder_get_length_in_pcm_frames(ma_decoder *d, ma_uint64 *n) { (void)d; *n = 0; return -1; }
static inline ma_result ma_decoder_read_pcm_frames(ma_decoder *d, void *o, ma_uint64 n, ma_uint64 *r) { (void)d; (void)o; (void)n; *r = 0; return -1; }
static inline ma_result ma_decoder_uninit(ma_decoder *d) { (void)d; return 0; }
