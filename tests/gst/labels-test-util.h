/* labels-test-util.h: results for the tests of labeloverlay and labellog. */
#pragma once

#include <gst/gst.h>
#include <gst/cliplabels/gstcliplabelsmeta.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The labels of every test result: "walking" 0.625, "running" 0.25, "dancing" 0.125. */
#define TEST_MAX_LABELS 3
extern const gchar *const test_label_names[TEST_MAX_LABELS];
extern const gfloat test_label_scores[TEST_MAX_LABELS];

/* Adds a result of model "tiny" with the first n_labels test labels to a writable buffer; the
 * clip covers 8 frames from clip_index seconds on. */
GstClipLabelsMeta *test_add_result (GstBuffer *buffer, const gchar *producer,
    guint64 clip_index, guint n_labels);

/* The same, with one label of the given name and score. */
GstClipLabelsMeta *test_add_one_label_result (GstBuffer *buffer, const gchar *producer,
    guint64 clip_index, const gchar *label, gfloat score);

/* The result of test_add_result() as a clip-labels event. */
GstEvent *test_result_event (const gchar *producer, guint64 clip_index, guint n_labels);

/* The JSON objects of a JSON Lines file; fails the test unless every line is one object and the
 * last line is ended. */
GPtrArray *test_read_json_lines (const gchar *path);

G_END_DECLS
