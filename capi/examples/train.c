/*
 * train.c: funk from C. Generates a small rating problem with a known
 * answer, trains a biased rank-4 model (rows of k = 16 floats, the last 12
 * kept at zero) with funk_train_block, evaluates it with
 * funk_evaluate_block, folds in a user the model never saw with
 * funk_fold_in and scores their held-back ratings with funk_predict. Exits
 * 0 when every RMSE is inside the thresholds derived below, 1 otherwise.
 *
 * Build (from the repository root; .ci/capi does exactly this):
 *
 *     cargo build -p funk-capi
 *     cc -std=c11 -O2 -Wall -Wextra -pedantic -Icapi/include \
 *        capi/examples/train.c target/debug/libfunk_capi.a \
 *        -lpthread -ldl -lm -o /tmp/funk-train
 *     /tmp/funk-train
 *
 * The problem. Ratings r = mu + b_u + b_i + p_u.q_i + e with
 *   mu = 3.5, b_u, b_i ~ U(-0.5, 0.5)        (variance 1/12 each),
 *   p_u, q_i in R^4, entries ~ U(-1, 1)       (p.q has variance 4/9),
 *   e ~ U(-0.1*sqrt(3), 0.1*sqrt(3))          (sigma = 0.1, the noise floor),
 * for 300 users x 200 items, each pair rated with probability 0.25
 * (about 15,000 ratings, 50 per user, 75 per item); one rating in ten is
 * held out as the test set.
 *
 * The thresholds, from those numbers:
 *   - predicting mu alone: RMSE = sqrt(1/12 + 1/12 + 4/9 + 0.01) = 0.79;
 *   - the best biases-only model: sqrt(4/9 + 0.01) = 0.67;
 *   - the true model: sigma = 0.10, the noise floor.
 * A least-squares fit with d = 5 parameters per row (4 factors and a
 * bias) from n_u = 45 training ratings per user and n_i = 68 per item has
 * an expected error of sigma * sqrt(1 + d/n_u + d/n_i) = 0.109 on ratings
 * it never saw, and sigma * sqrt(1 - d/n_u - d/n_i) = 0.090 on the ones it
 * was fitted to. SGD with regularisation stops short of that fit, so:
 *   - test RMSE < 0.15: the factors were learned (0.67 without them);
 *   - test RMSE > 0.09: nothing beats the noise on unseen ratings (over
 *     1,480 test ratings the noise's own RMSE is 0.100 +- 0.002), so a
 *     lower value means a broken split or evaluation;
 *   - 0.07 < train RMSE < test RMSE + 0.02: fitted, but no model of 5
 *     parameters per row fits the noise away.
 *
 * The folded-in user: 60 ratings from the same model, 40 used for the
 * fold-in and 20 held back. The same argument gives
 * sigma * sqrt(1 + 5/40) = 0.106, plus the error of the item factors,
 * measured over only 20 ratings (+- 0.015): we require RMSE < 0.20 on the
 * held-back ratings, against 0.67 for a user whose factors are ignored.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "funk.h"

/* The records are the sizes funk's files and the library use. */
_Static_assert(sizeof(FunkRating) == 12, "FunkRating is 12 bytes");
_Static_assert(sizeof(FunkItemRating) == 8, "FunkItemRating is 8 bytes");
_Static_assert(sizeof(FunkStatus) == 4, "FunkStatus is an int32_t");

#define USERS 300
#define ITEMS 200
#define RANK 4
#define K 16
#define DENSITY 0.25
#define EPOCHS 60
#define NEW_USER_RATINGS 60
#define NEW_USER_FOLDED 40

/* xorshift64*: the same problem on every platform. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static double uniform(double lo, double hi) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint64_t x = rng_state * 0x2545f4914f6cdd1dull;
    return lo + (hi - lo) * (double)(x >> 11) / 9007199254740992.0;
}

static void *aligned_or_die(size_t bytes) {
    /* aligned_alloc wants a size that is a multiple of the alignment. */
    size_t rounded = (bytes + FUNK_ROW_ALIGN - 1) / FUNK_ROW_ALIGN * FUNK_ROW_ALIGN;
    void *p = aligned_alloc(FUNK_ROW_ALIGN, rounded);
    if (p == NULL) {
        fprintf(stderr, "train: out of memory (%zu bytes)\n", rounded);
        exit(1);
    }
    memset(p, 0, rounded);
    return p;
}

static int check(FunkStatus status, const char *what) {
    if (status != FUNK_STATUS_OK) {
        fprintf(stderr, "train: %s failed: %s (status %d)\n", what,
                funk_status_message(status), (int)status);
        exit(1);
    }
    return 0;
}

/* The true model. */
static float true_p[USERS + 1][RANK], true_q[ITEMS][RANK];
static float true_bu[USERS + 1], true_bi[ITEMS];
static const float true_mu = 3.5f;

static float true_rating(int u, int i) {
    double r = true_mu + true_bu[u] + true_bi[i];
    for (int d = 0; d < RANK; d++) r += (double)true_p[u][d] * true_q[i][d];
    return (float)(r + uniform(-0.1 * sqrt(3.0), 0.1 * sqrt(3.0)));
}

int main(void) {
    /* Users 0..USERS-1 are trained; user USERS is folded in later. */
    for (int u = 0; u <= USERS; u++) {
        true_bu[u] = (float)uniform(-0.5, 0.5);
        for (int d = 0; d < RANK; d++) true_p[u][d] = (float)uniform(-1, 1);
    }
    for (int i = 0; i < ITEMS; i++) {
        true_bi[i] = (float)uniform(-0.5, 0.5);
        for (int d = 0; d < RANK; d++) true_q[i][d] = (float)uniform(-1, 1);
    }

    /* Ratings, split 9:1 into train and test. */
    size_t cap = USERS * ITEMS;
    FunkRating *train = malloc(cap * sizeof *train);
    FunkRating *test = malloc(cap * sizeof *test);
    if (train == NULL || test == NULL) return 1;
    size_t n_train = 0, n_test = 0;
    double sum = 0;
    for (int u = 0; u < USERS; u++) {
        for (int i = 0; i < ITEMS; i++) {
            if (uniform(0, 1) >= DENSITY) continue;
            FunkRating r = {(uint32_t)u, (uint32_t)i, true_rating(u, i)};
            if (uniform(0, 1) < 0.1) {
                test[n_test++] = r;
            } else {
                train[n_train++] = r;
                sum += r.value;
            }
        }
    }
    /* Shuffle the training ratings (Fisher-Yates): SGD wants no order. */
    for (size_t j = n_train - 1; j > 0; j--) {
        size_t k = (size_t)uniform(0, (double)(j + 1));
        FunkRating t = train[j];
        train[j] = train[k];
        train[k] = t;
    }
    float mu = (float)(sum / (double)n_train);

    /* The model: rows of K floats, 64-byte aligned; rank 4 means only the
     * first 4 values of a row start non-zero (SGD keeps the rest at 0). */
    float *p = aligned_or_die(sizeof(float) * USERS * K);
    float *q = aligned_or_die(sizeof(float) * ITEMS * K);
    float *bu = aligned_or_die(sizeof(float) * USERS);
    float *bi = aligned_or_die(sizeof(float) * ITEMS);
    for (int u = 0; u < USERS; u++)
        for (int d = 0; d < RANK; d++) p[u * K + d] = (float)uniform(-0.1, 0.1);
    for (int i = 0; i < ITEMS; i++)
        for (int d = 0; d < RANK; d++) q[i * K + d] = (float)uniform(-0.1, 0.1);

    FunkBand users = {p, bu, NULL, USERS};
    FunkBand items = {q, bi, NULL, ITEMS};
    FunkTrainParams params = {
        .k = K,
        .model = FUNK_MODEL_KIND_BIASED,
        .schedule = FUNK_SCHEDULE_DECAY,
        .isa = FUNK_ISA_AUTO,
        .learning_rate = 0.03f,
        .reg_factors = 0.02f,
        .reg_bias = 0.01f,
        .decay = 0.02f,
        .mu = mu,
        .epoch = 0,
    };

    /* A refused call names its problem and leaves the buffers alone. */
    FunkTrainParams bad = params;
    bad.k = 24;
    FunkStatus refused = funk_train_block(&bad, &users, &items, train, n_train, NULL, 0, NULL);
    printf("k = 24 refused: %s\n", funk_status_message(refused));
    if (refused != FUNK_STATUS_UNSUPPORTED_K) return 1;

    FunkBlockStats stats;
    for (uint32_t epoch = 0; epoch < EPOCHS; epoch++) {
        params.epoch = epoch;
        check(funk_train_block(&params, &users, &items, train, n_train, NULL, 0, &stats),
              "funk_train_block");
        if (epoch % 20 == 19)
            printf("epoch %2u: running train RMSE %.4f over %llu ratings\n", epoch + 1,
                   sqrt(stats.sse / (double)stats.count), (unsigned long long)stats.count);
    }

    FunkEvalParams eval = {
        .k = K, .model = FUNK_MODEL_KIND_BIASED, .isa = FUNK_ISA_AUTO,
        .mu = mu, .clamp_low = -INFINITY, .clamp_high = INFINITY,
    };
    FunkBandView user_view = {p, bu, USERS};
    FunkBandView item_view = {q, bi, ITEMS};
    FunkLossStats on_train, on_test;
    check(funk_evaluate_block(&eval, &user_view, &item_view, train, n_train, &on_train),
          "funk_evaluate_block (train)");
    check(funk_evaluate_block(&eval, &user_view, &item_view, test, n_test, &on_test),
          "funk_evaluate_block (test)");
    printf("train RMSE %.4f  test RMSE %.4f  test MAE %.4f  (%zu / %zu ratings)\n",
           on_train.rmse, on_test.rmse, on_test.mae, n_train, n_test);

    /* Padding stays zero: the model is rank 4 in rows of 16. */
    for (int u = 0; u < USERS; u++)
        for (int d = RANK; d < K; d++)
            if (p[u * K + d] != 0.0f) {
                fprintf(stderr, "train: padding of user %d moved\n", u);
                return 1;
            }

    /* A new user: fold 40 ratings in, score the other 20. */
    FunkItemRating folded[NEW_USER_FOLDED];
    FunkRating held[NEW_USER_RATINGS - NEW_USER_FOLDED];
    int n_folded = 0, n_held = 0;
    for (int j = 0; j < NEW_USER_RATINGS; j++) {
        uint32_t item = (uint32_t)(j * ITEMS / NEW_USER_RATINGS);
        float value = true_rating(USERS, (int)item);
        if (j % 3 == 2) {
            held[n_held++] = (FunkRating){0, item, value}; /* user 0 of a 1-row band */
        } else {
            folded[n_folded++] = (FunkItemRating){item, value};
        }
    }
    FunkFoldInParams fold = {
        .k = K, .rank = RANK, .model = FUNK_MODEL_KIND_BIASED,
        .reg_factors = params.reg_factors, .reg_bias = params.reg_bias,
        .reg_row = 0.0f, .mu = mu,
    };
    float *row = aligned_or_die(sizeof(float) * K);
    float bias = 0.0f;
    check(funk_fold_in(&fold, &item_view, folded, (size_t)n_folded, row, &bias), "funk_fold_in");
    FunkBandView new_user = {row, &bias, 1};
    double sse = 0;
    for (int j = 0; j < n_held; j++) {
        float predicted;
        check(funk_predict(&eval, &new_user, &item_view, 0, held[j].item, &predicted),
              "funk_predict");
        sse += (predicted - held[j].value) * (double)(predicted - held[j].value);
    }
    double fold_rmse = sqrt(sse / n_held);
    /* funk_evaluate_block agrees with funk_predict on the same pairs. */
    FunkLossStats on_held;
    check(funk_evaluate_block(&eval, &new_user, &item_view, held, (size_t)n_held, &on_held),
          "funk_evaluate_block (folded-in user)");
    printf("folded-in user: bias %.3f (true %.3f), RMSE %.4f on %d held-back ratings\n", bias,
           true_bu[USERS], fold_rmse, n_held);

    int ok = 1;
#define REQUIRE(cond)                                        \
    do {                                                     \
        if (!(cond)) {                                       \
            fprintf(stderr, "train: FAILED: %s\n", #cond);  \
            ok = 0;                                          \
        }                                                    \
    } while (0)
    REQUIRE(on_test.rmse < 0.15);
    REQUIRE(on_test.rmse > 0.09);
    REQUIRE(on_train.rmse > 0.07);
    REQUIRE(on_train.rmse < on_test.rmse + 0.02);
    REQUIRE(fold_rmse < 0.20);
    REQUIRE(fabs(on_held.rmse - fold_rmse) < 1e-6);
    printf("%s\n", ok ? "all thresholds met" : "thresholds missed");

    free(train);
    free(test);
    free(p);
    free(q);
    free(bu);
    free(bi);
    free(row);
    return ok ? 0 : 1;
}
