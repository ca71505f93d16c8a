// Sightline's image codecs: libjpeg-turbo (classic libjpeg API) and libpng behind plain C
// functions. Every codec error is caught inside C (setjmp/longjmp never crosses a Swift frame)
// and returned as a non-zero code plus a message in `error` (at least SL_ERROR_CAPACITY bytes).
#pragma once
#include <stddef.h>
#include <stdint.h>

#define SL_ERROR_CAPACITY 256

/// A decoded image: 8-bit RGB, row-major, `height * width * 3` bytes, owned by the caller
/// (release with sl_image_free).
typedef struct {
    uint8_t *pixels;
    int width;
    int height;
    /// EXIF orientation (1-8) from a JPEG's APP1 segment; 1 when absent or unreadable.
    int orientation;
} sl_image;

/// Reads the JPEG header only. Returns 0 and fills width/height, or non-zero with `error`.
int sl_jpeg_dimensions(const uint8_t *data, size_t size, int *width, int *height, char *error);

/// Decodes a JPEG (baseline, progressive, grayscale, RGB, CMYK and Adobe-inverted YCCK) to RGB.
/// Images with more than `max_pixels` pixels are rejected before the pixel buffer is allocated.
int sl_jpeg_decode(const uint8_t *data, size_t size, long long max_pixels, sl_image *out, char *error);

/// Encodes RGB pixels (`height * width * 3` bytes) as a baseline JPEG of the given quality (1-100).
/// On success `*out` is a malloc'ed buffer of `*out_size` bytes (release with sl_buffer_free).
int sl_jpeg_encode(const uint8_t *rgb, int width, int height, int quality, uint8_t **out, size_t *out_size, char *error);

/// Decodes a PNG (8/16-bit, grayscale, palette, alpha; alpha is dropped, 16-bit is reduced to 8)
/// to RGB. Images with more than `max_pixels` pixels are rejected before allocation.
int sl_png_decode(const uint8_t *data, size_t size, long long max_pixels, sl_image *out, char *error);

void sl_image_free(sl_image *image);
void sl_buffer_free(uint8_t *buffer);
