#include "assets.h"

#include <string.h>

#include "err.h"

/* ASSETS[]: generated from the files by embed_assets.cmake */
#include "assets_data.inc"

int assets_find(const char *path, assets_file_t *out)
{
    if (!path)
        return -ERR_NOT_FOUND;
    if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0)
        path = "/explorer/index.html";
    for (size_t i = 0; i < sizeof ASSETS / sizeof ASSETS[0]; i++)
        if (strcmp(path, ASSETS[i].path) == 0) {
            *out = ASSETS[i].file;
            return 0;
        }
    return -ERR_NOT_FOUND;
}
