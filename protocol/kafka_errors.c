/* protocol/kafka_errors.c — name and retriability of each Kafka error code. */
#include "kafka_errors.h"

#include <stddef.h>

struct kp_error_fact {
        int16_t code;
        bool retriable;
        const char *name;
};

static const struct kp_error_fact facts[] = {
    {-1, false, "UNKNOWN_SERVER_ERROR"},
    {0, false, "NONE"},
    {1, false, "OFFSET_OUT_OF_RANGE"},
    {2, true, "CORRUPT_MESSAGE"},
    {3, true, "UNKNOWN_TOPIC_OR_PARTITION"},
    {5, true, "LEADER_NOT_AVAILABLE"},
    {6, true, "NOT_LEADER_OR_FOLLOWER"},
    {7, true, "REQUEST_TIMED_OUT"},
    {8, false, "BROKER_NOT_AVAILABLE"},
    {10, false, "MESSAGE_TOO_LARGE"},
    {12, false, "OFFSET_METADATA_TOO_LARGE"},
    {14, true, "COORDINATOR_LOAD_IN_PROGRESS"},
    {15, true, "COORDINATOR_NOT_AVAILABLE"},
    {16, true, "NOT_COORDINATOR"},
    {17, false, "INVALID_TOPIC_EXCEPTION"},
    {18, false, "RECORD_LIST_TOO_LARGE"},
    {19, true, "NOT_ENOUGH_REPLICAS"},
    {20, true, "NOT_ENOUGH_REPLICAS_AFTER_APPEND"},
    {21, false, "INVALID_REQUIRED_ACKS"},
    {22, false, "ILLEGAL_GENERATION"},
    {23, false, "INCONSISTENT_GROUP_PROTOCOL"},
    {24, false, "INVALID_GROUP_ID"},
    {25, false, "UNKNOWN_MEMBER_ID"},
    {26, false, "INVALID_SESSION_TIMEOUT"},
    {27, false, "REBALANCE_IN_PROGRESS"},
    {28, false, "INVALID_COMMIT_OFFSET_SIZE"},
    {32, false, "INVALID_TIMESTAMP"},
    {33, false, "UNSUPPORTED_SASL_MECHANISM"},
    {34, false, "ILLEGAL_SASL_STATE"},
    {35, false, "UNSUPPORTED_VERSION"},
    {36, false, "TOPIC_ALREADY_EXISTS"},
    {37, false, "INVALID_PARTITIONS"},
    {38, false, "INVALID_REPLICATION_FACTOR"},
    {39, false, "INVALID_REPLICA_ASSIGNMENT"},
    {40, false, "INVALID_CONFIG"},
    {41, true, "NOT_CONTROLLER"},
    {42, false, "INVALID_REQUEST"},
    {43, false, "UNSUPPORTED_FOR_MESSAGE_FORMAT"},
    {44, false, "POLICY_VIOLATION"},
    {45, false, "OUT_OF_ORDER_SEQUENCE_NUMBER"},
    {46, false, "DUPLICATE_SEQUENCE_NUMBER"},
    {47, false, "INVALID_PRODUCER_EPOCH"},
    {48, false, "INVALID_TXN_STATE"},
    {49, false, "INVALID_PRODUCER_ID_MAPPING"},
    {50, false, "INVALID_TRANSACTION_TIMEOUT"},
    {51, true, "CONCURRENT_TRANSACTIONS"},
    {52, false, "TRANSACTION_COORDINATOR_FENCED"},
    {53, false, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"},
    {55, false, "OPERATION_NOT_ATTEMPTED"},
    {56, true, "KAFKA_STORAGE_ERROR"},
    {58, false, "SASL_AUTHENTICATION_FAILED"},
    {59, false, "UNKNOWN_PRODUCER_ID"},
    {67, false, "INVALID_PRINCIPAL_TYPE"},
    {68, false, "NON_EMPTY_GROUP"},
    {69, false, "GROUP_ID_NOT_FOUND"},
    {70, true, "FETCH_SESSION_ID_NOT_FOUND"},
    {71, true, "INVALID_FETCH_SESSION_EPOCH"},
    {72, true, "LISTENER_NOT_FOUND"},
    {73, false, "TOPIC_DELETION_DISABLED"},
    {74, true, "FENCED_LEADER_EPOCH"},
    {75, true, "UNKNOWN_LEADER_EPOCH"},
    {76, false, "UNSUPPORTED_COMPRESSION_TYPE"},
    {78, true, "OFFSET_NOT_AVAILABLE"},
    {79, false, "MEMBER_ID_REQUIRED"},
    {81, false, "GROUP_MAX_SIZE_REACHED"},
    {82, false, "FENCED_INSTANCE_ID"},
    {84, true, "ELECTION_NOT_NEEDED"},
    {85, false, "NO_REASSIGNMENT_IN_PROGRESS"},
    {86, false, "GROUP_SUBSCRIBED_TO_TOPIC"},
    {87, false, "INVALID_RECORD"},
    {88, true, "UNSTABLE_OFFSET_COMMIT"},
    {89, true, "THROTTLING_QUOTA_EXCEEDED"},
    {90, false, "PRODUCER_FENCED"},
    {91, false, "RESOURCE_NOT_FOUND"},
    {92, false, "DUPLICATE_RESOURCE"},
    {93, false, "UNACCEPTABLE_CREDENTIAL"},
    {100, true, "UNKNOWN_TOPIC_ID"},
    {103, true, "INCONSISTENT_TOPIC_ID"},
    {106, true, "FETCH_SESSION_TOPIC_ID_ERROR"},
    {110, false, "FENCED_MEMBER_EPOCH"},
    {111, false, "UNRELEASED_INSTANCE_ID"},
    {112, false, "UNSUPPORTED_ASSIGNOR"},
    {113, false, "STALE_MEMBER_EPOCH"},
    {120, false, "TRANSACTION_ABORTABLE"},
    {128, false, "INVALID_REGULAR_EXPRESSION"},
};

static const struct kp_error_fact *find(int16_t code)
{
        for (size_t i = 0; i < sizeof(facts) / sizeof(facts[0]); i++)
                if (facts[i].code == code)
                        return &facts[i];
        return 0;
}

const char *kp_error_name(int16_t code)
{
        const struct kp_error_fact *f = find(code);
        return f ? f->name : "UNKNOWN";
}

bool kp_error_retriable(int16_t code)
{
        const struct kp_error_fact *f = find(code);
        return f && f->retriable;
}
