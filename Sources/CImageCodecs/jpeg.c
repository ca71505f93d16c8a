// JPEG through libjpeg-turbo's libjpeg API with a setjmp-based error manager, so a corrupt
// or truncated file returns an error code instead of calling exit().
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include "CImageCodecs.h"

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char *message;
} sl_jpeg_error;

static void sl_jpeg_error_exit(j_common_ptr info) {
    sl_jpeg_error *err = (sl_jpeg_error *)info->err;
    char buffer[JMSG_LENGTH_MAX];
    (*info->err->format_message)(info, buffer);
    snprintf(err->message, SL_ERROR_CAPACITY, "%s", buffer);
    longjmp(err->jump, 1);
}

// Corrupt-data warnings are errors for Sightline: a half-decoded photo must not pass silently.
static void sl_jpeg_emit(j_common_ptr info, int level) {
    if (level < 0) sl_jpeg_error_exit(info);
}

int sl_jpeg_dimensions(const uint8_t *data, size_t size, int *width, int *height, char *error) {
    struct jpeg_decompress_struct info;
    sl_jpeg_error err;
    info.err = jpeg_std_error(&err.base);
    err.base.error_exit = sl_jpeg_error_exit;
    err.base.emit_message = sl_jpeg_emit;
    err.message = error;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&info);
        return 1;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, (unsigned long)size);
    jpeg_read_header(&info, TRUE);
    *width = (int)info.image_width;
    *height = (int)info.image_height;
    jpeg_destroy_decompress(&info);
    return 0;
}

int sl_jpeg_decode(const uint8_t *data, size_t size, long long max_pixels, sl_image *out, char *error) {
    struct jpeg_decompress_struct info;
    sl_jpeg_error err;
    uint8_t *volatile pixels = NULL;
    uint8_t *volatile row = NULL;
    info.err = jpeg_std_error(&err.base);
    err.base.error_exit = sl_jpeg_error_exit;
    err.base.emit_message = sl_jpeg_emit;
    err.message = error;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&info);
        free(pixels);
        free(row);
        return 1;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, (unsigned long)size);
    jpeg_read_header(&info, TRUE);
    long long count = (long long)info.image_width * (long long)info.image_height;
    if (count > max_pixels) {
        snprintf(error, SL_ERROR_CAPACITY, "image is %ux%u pixels, more than the limit of %lld pixels",
                 info.image_width, info.image_height, max_pixels);
        jpeg_destroy_decompress(&info);
        return 2;
    }
    int cmyk = info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK;
    // libjpeg converts YCCK to CMYK; Adobe files store inverted CMYK, which saw_Adobe_marker tells.
    info.out_color_space = cmyk ? JCS_CMYK : (info.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB);
    jpeg_start_decompress(&info);
    int w = (int)info.output_width, h = (int)info.output_height, c = info.output_components;
    pixels = malloc((size_t)w * h * 3);
    row = malloc((size_t)w * c);
    if (!pixels || !row) {
        snprintf(error, SL_ERROR_CAPACITY, "out of memory for a %dx%d image", w, h);
        jpeg_destroy_decompress(&info);
        free(pixels);
        free(row);
        return 3;
    }
    int inverted = cmyk && info.saw_Adobe_marker;
    while (info.output_scanline < info.output_height) {
        int y = (int)info.output_scanline;
        JSAMPROW rows[1] = {row};
        jpeg_read_scanlines(&info, rows, 1);
        uint8_t *dst = pixels + (size_t)y * w * 3;
        for (int x = 0; x < w; x++) {
            if (c == 1) {
                dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = row[x];
            } else if (c == 3) {
                memcpy(dst + 3 * x, row + 3 * x, 3);
            } else {
                // CMYK -> RGB as Pillow does: R = 255 - C scaled by (255 - K); inverted Adobe data first flipped.
                int cc = row[4 * x], m = row[4 * x + 1], yy = row[4 * x + 2], k = row[4 * x + 3];
                if (inverted) { cc = 255 - cc; m = 255 - m; yy = 255 - yy; k = 255 - k; }
                dst[3 * x] = (uint8_t)((255 - cc) * (255 - k) / 255);
                dst[3 * x + 1] = (uint8_t)((255 - m) * (255 - k) / 255);
                dst[3 * x + 2] = (uint8_t)((255 - yy) * (255 - k) / 255);
            }
        }
    }
    jpeg_finish_decompress(&info);
    jpeg_destroy_decompress(&info);
    free(row);
    out->pixels = pixels;
    out->width = w;
    out->height = h;
    return 0;
}

int sl_jpeg_encode(const uint8_t *rgb, int width, int height, int quality, uint8_t **out, size_t *out_size, char *error) {
    struct jpeg_compress_struct info;
    sl_jpeg_error err;
    unsigned char *volatile buffer = NULL;
    unsigned long size = 0;
    info.err = jpeg_std_error(&err.base);
    err.base.error_exit = sl_jpeg_error_exit;
    err.message = error;
    if (setjmp(err.jump)) {
        jpeg_destroy_compress(&info);
        free(buffer);
        return 1;
    }
    jpeg_create_compress(&info);
    unsigned char *target = NULL;
    jpeg_mem_dest(&info, &target, &size);
    info.image_width = (JDIMENSION)width;
    info.image_height = (JDIMENSION)height;
    info.input_components = 3;
    info.in_color_space = JCS_RGB;
    jpeg_set_defaults(&info);
    jpeg_set_quality(&info, quality < 1 ? 1 : (quality > 100 ? 100 : quality), TRUE);
    jpeg_start_compress(&info, TRUE);
    while (info.next_scanline < info.image_height) {
        JSAMPROW rows[1] = {(JSAMPROW)(rgb + (size_t)info.next_scanline * width * 3)};
        jpeg_write_scanlines(&info, rows, 1);
    }
    jpeg_finish_compress(&info);
    buffer = target;
    jpeg_destroy_compress(&info);
    *out = buffer;
    *out_size = size;
    return 0;
}

void sl_image_free(sl_image *image) {
    free(image->pixels);
    image->pixels = NULL;
}

void sl_buffer_free(uint8_t *buffer) { free(buffer); }
