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

/// Reads the EXIF Orientation tag (0x0112) from an APP1 "Exif\0\0" payload; 1 if absent.
static int sl_exif_orientation(const uint8_t *data, unsigned length) {
    if (length < 14 || memcmp(data, "Exif\0\0", 6) != 0) return 1;
    const uint8_t *tiff = data + 6;
    unsigned size = length - 6;
    int little = tiff[0] == 'I' && tiff[1] == 'I';
    if (!little && !(tiff[0] == 'M' && tiff[1] == 'M')) return 1;
#define U16(p) (little ? (unsigned)((p)[0] | (p)[1] << 8) : (unsigned)((p)[0] << 8 | (p)[1]))
#define U32(p) (little ? ((unsigned)(p)[0] | (unsigned)(p)[1] << 8 | (unsigned)(p)[2] << 16 | (unsigned)(p)[3] << 24) \
                       : ((unsigned)(p)[0] << 24 | (unsigned)(p)[1] << 16 | (unsigned)(p)[2] << 8 | (unsigned)(p)[3]))
    unsigned ifd = U32(tiff + 4);
    if (ifd + 2 > size) return 1;
    unsigned entries = U16(tiff + ifd);
    for (unsigned i = 0; i < entries; i++) {
        unsigned entry = ifd + 2 + 12 * i;
        if (entry + 12 > size) break;
        if (U16(tiff + entry) == 0x0112) {
            unsigned value = U16(tiff + entry + 8);
            return value >= 1 && value <= 8 ? (int)value : 1;
        }
    }
#undef U16
#undef U32
    return 1;
}

int sl_jpeg_decode(const uint8_t *data, size_t size, long long max_pixels, sl_image *out, char *error) {
    return sl_jpeg_decode_scaled(data, size, max_pixels, 0, 0, out, error);
}

int sl_jpeg_decode_scaled(const uint8_t *data, size_t size, long long max_pixels, int min_width, int min_height, sl_image *out, char *error) {
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
    jpeg_save_markers(&info, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&info, TRUE);
    int orientation = 1;
    for (jpeg_saved_marker_ptr marker = info.marker_list; marker; marker = marker->next) {
        if (marker->marker == JPEG_APP0 + 1) orientation = sl_exif_orientation(marker->data, marker->data_length);
    }
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
    if (min_width > 0 && min_height > 0) {
        for (int denom = 8; denom > 1; denom /= 2) {
            if ((long long)info.image_width >= (long long)min_width * denom && (long long)info.image_height >= (long long)min_height * denom) {
                info.scale_num = 1;
                info.scale_denom = (unsigned)denom;
                break;
            }
        }
    }
    jpeg_start_decompress(&info);
    int w = (int)info.output_width, h = (int)info.output_height, c = info.output_components;
    pixels = malloc((size_t)w * h * 3);
    // RGB scanlines are decoded straight into the image; grayscale and CMYK rows go through one
    // row of scratch and are expanded or converted.
    row = c == 3 ? NULL : malloc((size_t)w * c);
    if (!pixels || (c != 3 && !row)) {
        snprintf(error, SL_ERROR_CAPACITY, "out of memory for a %dx%d image", w, h);
        jpeg_destroy_decompress(&info);
        free(pixels);
        free(row);
        return 3;
    }
    int inverted = cmyk && info.saw_Adobe_marker;
    while (info.output_scanline < info.output_height) {
        int y = (int)info.output_scanline;
        uint8_t *dst = pixels + (size_t)y * w * 3;
        if (c == 3) {
            // Up to the decoder's natural row group (rec_outbuf_height) in one call.
            JSAMPROW rows[4];
            int count = (int)info.output_height - y < 4 ? (int)info.output_height - y : 4;
            for (int i = 0; i < count; i++) rows[i] = dst + (size_t)i * w * 3;
            jpeg_read_scanlines(&info, rows, (JDIMENSION)count);
            continue;
        }
        JSAMPROW rows[1] = {row};
        jpeg_read_scanlines(&info, rows, 1);
        for (int x = 0; x < w; x++) {
            if (c == 1) {
                dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = row[x];
            } else {
                // CMYK -> RGB exactly as Pillow's cmyk2rgb: R = (255 - K) - round(C * (255 - K) / 255),
                // with Pillow's MULDIV255 rounding; inverted (Adobe) data is flipped first.
                int cc = row[4 * x], m = row[4 * x + 1], yy = row[4 * x + 2], k = row[4 * x + 3];
                if (inverted) { cc = 255 - cc; m = 255 - m; yy = 255 - yy; k = 255 - k; }
                int nk = 255 - k, t;
#define SL_MULDIV255(a, b) (t = (a) * (b) + 128, ((t >> 8) + t) >> 8)
                dst[3 * x] = (uint8_t)(nk - SL_MULDIV255(cc, nk));
                dst[3 * x + 1] = (uint8_t)(nk - SL_MULDIV255(m, nk));
                dst[3 * x + 2] = (uint8_t)(nk - SL_MULDIV255(yy, nk));
#undef SL_MULDIV255
            }
        }
    }
    jpeg_finish_decompress(&info);
    jpeg_destroy_decompress(&info);
    free(row);
    out->pixels = pixels;
    out->width = w;
    out->height = h;
    out->orientation = orientation;
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
