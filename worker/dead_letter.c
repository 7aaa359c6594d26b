/* dead_letter.c -- dead letters that finish their offset on delivery (see
 * dead_letter.h). The position to finish travels as the delivery callback's
 * opaque, freed there. */
#include "dead_letter.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct dead_letter_done {
    offset_tracker *tracker;
    char topic[256];
    int32_t partition;
    int64_t offset;
} dead_letter_done;

static void dead_letter_delivered(void *opaque) {
    dead_letter_done *d = opaque;
    offset_tracker_finish(d->tracker, d->topic, d->partition, d->offset);
    free(d);
}

int dead_letter_send(publisher *pub, offset_tracker *tracker, const inv_dead_letter *dl,
                     char *err, size_t errlen) {
    char *record = inv_dead_letter_encode(dl);
    dead_letter_done *done = calloc(1, sizeof(*done));
    if (record == NULL || done == NULL) {
        snprintf(err, errlen, "out of memory");
        free(record);
        free(done);
        return -1;
    }
    done->tracker = tracker;
    snprintf(done->topic, sizeof(done->topic), "%s", dl->topic);
    done->partition = dl->partition;
    done->offset = dl->offset;
    int rc = publisher_send_dead_letter(pub, dl->key, dl->key ? dl->key_len : 0, record,
                                        dead_letter_delivered, done);
    free(record);
    if (rc != 0) {
        snprintf(err, errlen, "could not be queued");
        free(done);
        return -1;
    }
    return 0;
}
