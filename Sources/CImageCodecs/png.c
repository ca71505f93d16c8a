// PNG through libpng with its setjmp error recovery kept inside this file.
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>
#include "CImageCodecs.h"

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t offset;
} sl_png_source;

typedef struct {
    char *message;
} sl_png_errors;

static void sl_png_read(png_structp png, png_bytep target, png_size_t length) {
    sl_png_source *source = (sl_png_source *)png_get_io_ptr(png);
    if (source->offset + length > source->size) png_error(png, "unexpected end of file (truncated PNG)");
    memcpy(target, source->data + source->offset, length);
    source->offset += length;
}

static void sl_png_error(png_structp png, png_const_charp message) {
    sl_png_errors *errors = (sl_png_errors *)png_get_error_ptr(png);
    snprintf(errors->message, SL_ERROR_CAPACITY, "%s", message);
    png_longjmp(png, 1);
}

static void sl_png_warning(png_structp png, png_const_charp message) { (void)png; (void)message; }

int sl_png_decode(const uint8_t *data, size_t size, long long max_pixels, sl_image *out, char *error) {
    if (size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {
        snprintf(error, SL_ERROR_CAPACITY, "not a PNG file (bad signature)");
        return 1;
    }
    sl_png_errors errors = {error};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &errors, sl_png_error, sl_png_warning);
    if (!png) {
        snprintf(error, SL_ERROR_CAPACITY, "libpng could not start");
        return 1;
    }
    png_infop info = png_create_info_struct(png);
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, info ? &info : NULL, NULL);
        free(pixels);
        free(rows);
        return 1;
    }
    sl_png_source source = {data, size, 0};
    png_set_read_fn(png, &source, sl_png_read);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if ((long long)w * (long long)h > max_pixels) {
        snprintf(error, SL_ERROR_CAPACITY, "image is %ux%u pixels, more than the limit of %lld pixels", w, h, max_pixels);
        png_destroy_read_struct(&png, &info, NULL);
        return 2;
    }
    int type = png_get_color_type(png, info);
    if (png_get_bit_depth(png, info) == 16) png_set_strip_16(png);
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (type == PNG_COLOR_TYPE_GRAY || type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_strip_alpha(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png), png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t stride = png_get_rowbytes(png, info);
    if (stride != (size_t)w * 3) png_error(png, "unexpected PNG row layout after conversion to RGB");
    pixels = malloc(stride * h);
    rows = malloc(sizeof(png_bytep) * h);
    if (!pixels || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = pixels + y * stride;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    out->pixels = pixels;
    out->width = (int)w;
    out->height = (int)h;
    out->orientation = 1;
    return 0;
}
