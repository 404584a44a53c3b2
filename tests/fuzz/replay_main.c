/* tests/fuzz/replay_main.c — runs a libFuzzer harness over every file of a
 * corpus directory (or over the files named), so the corpus is replayed in
 * every build, with or without clang's libFuzzer. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
        FILE *f = fopen(path, "rb");
        if (!f) {
                perror(path);
                return -1;
        }
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
        size_t got = fread(buf, 1, (size_t)len, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, got);
        free(buf);
        return 0;
}

static int replay_path(const char *path, int *count)
{
        struct stat st;
        if (stat(path, &st) != 0) {
                perror(path);
                return -1;
        }
        if (!S_ISDIR(st.st_mode)) {
                (*count)++;
                return replay_file(path);
        }
        DIR *d = opendir(path);
        if (!d)
                return -1;
        struct dirent *e;
        int rc = 0;
        while ((e = readdir(d))) {
                if (e->d_name[0] == '.')
                        continue;
                char child[4096];
                snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
                rc |= replay_path(child, count);
        }
        closedir(d);
        return rc;
}

int main(int argc, char **argv)
{
        int count = 0, rc = 0;
        for (int i = 1; i < argc; i++)
                rc |= replay_path(argv[i], &count);
        printf("replayed %d inputs\n", count);
        return rc ? 1 : 0;
}
