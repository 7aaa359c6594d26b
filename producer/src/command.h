/* command.h -- building validated commands from loose fields.
 *
 * The CLI and the REST gateway both receive a command as a handful of
 * fields (text from argv, or a JSON body in camelCase or PascalCase). They
 * are laid over the codec's own encoding of an empty command of the wanted
 * type and the result is decoded by the codec, so every check and every
 * message ("quantity: must be an integer from 1 to 1000000") is the codec's:
 * what the producer accepts is exactly what the worker accepts.
 */
#ifndef PRODUCER_COMMAND_H
#define PRODUCER_COMMAND_H

#include <jansson.h>
#include <stddef.h>

#include "leasehold/inventory_schema.h"

/* Fields a client may supply, in the codec's camelCase spelling. */
extern const char
    *const command_client_fields[4]; /* quantity, customerId, reservationId, ttlSeconds */

/* Builds and validates a command. `fields` (borrowed, may be NULL) holds any
 * of command_client_fields in camelCase or PascalCase; other keys are
 * ignored. `command_id` NULL = a fresh GUID. Returns 0, or -1 with the
 * codec's "field: reason" in `err`. */
int command_build(inv_command_type type, const char *command_id, const char *product_id,
                  json_t *fields, inv_command *out, char *err, size_t errlen);

/* Checks a product id against the codec's rules (pattern, length).
 * Returns 0, or -1 with "productId: ..." in err. */
int command_check_product(const char *product_id, char *err, size_t errlen);

/* Value of `camel` or its PascalCase twin in `obj` (borrowed) or NULL. */
json_t *command_field(json_t *obj, const char *camel);

/* JSON value for a number typed on the command line: an integer when the
 * whole text is one, else the text itself (so the codec reports the type
 * error in its own words). New reference. */
json_t *command_number_text(const char *text);

/* Topic key for a command type: "topic.reservations", "topic.releases" or
 * "topic.admin". */
const char *command_topic_key(inv_command_type type);

#endif
