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

/// Decodes a JPEG (baseline, progressive, grayscale, RGB, CMYK and Adobe-inverted YCCK) to RGB.
/// Images with more than `max_pixels` pixels are rejected before the pixel buffer is allocated.
/// With `min_width`/`min_height` > 0, libjpeg's DCT scaling decodes at 1/2, 1/4 or 1/8 size when
/// the result still covers that size (much faster for photos far larger than a model's input).
int sl_jpeg_decode_scaled(const uint8_t *data, size_t size, long long max_pixels, int min_width, int min_height, sl_image *out, char *error);

/// `sl_jpeg_decode_scaled` at full size.
int sl_jpeg_decode(const uint8_t *data, size_t size, long long max_pixels, sl_image *out, char *error);

/// Encodes RGB pixels (`height * width * 3` bytes) as a baseline JPEG of the given quality (1-100).
/// On success `*out` is a malloc'ed buffer of `*out_size` bytes (release with sl_buffer_free).
int sl_jpeg_encode(const uint8_t *rgb, int width, int height, int quality, uint8_t **out, size_t *out_size, char *error);

/// Decodes a PNG (8/16-bit, grayscale, palette, alpha; alpha is dropped, 16-bit is reduced to 8)
/// to RGB. Images with more than `max_pixels` pixels are rejected before allocation.
int sl_png_decode(const uint8_t *data, size_t size, long long max_pixels, sl_image *out, char *error);

void sl_image_free(sl_image *image);
void sl_buffer_free(uint8_t *buffer);
