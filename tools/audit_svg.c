/*  audit_svg -- `nrm-audit case --svg`: the handoffs of one case as a
    swimlane picture. One horizontal lane per organisation (in order of first
    appearance), one column per step in log order with its time below; an
    ACCEPTED message is an arrow from the sender's lane to the recipient's,
    a delivery a dot on the recipient's lane, a refusal a red cross. Each
    step carries its proof mark: a green check when its signature verifies
    and it is in the latest signed checkpoint, an open circle when it is not
    yet in a checkpoint, a red cross when its signature fails. Plain SVG 1.1,
    no script, every text escaped. */
#include "audit.h"

#include <string.h>

#include "nrm_util.h"

#define S_LANES_MAX  64
#define S_LEFT       170          /* lane labels */
#define S_COL        120          /* width of a step */
#define S_TOP        70
#define S_LANE       80
#define S_SVG_MAX    ((size_t) 64 << 20)

static void
s_text(tool_buf_t *b, const char *s)
{
    for (; *s; s++)
        switch (*s) {
        case '&': tool_buf_printf(b, "&amp;"); break;
        case '<': tool_buf_printf(b, "&lt;"); break;
        case '>': tool_buf_printf(b, "&gt;"); break;
        case '"': tool_buf_printf(b, "&quot;"); break;
        default:
            if ((unsigned char) *s >= 0x20)
                tool_buf_printf(b, "%c", *s);
        }
}

static int
s_lane(char (*lanes)[NRM_ID_MAX + 1], size_t *n, const char *org)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(lanes[i], org) == 0)
            return (int) i;
    if (*n == S_LANES_MAX)
        return S_LANES_MAX - 1;     /* the last lane takes the rest */
    snprintf(lanes[*n], NRM_ID_MAX + 1, "%s", org);
    return (int) (*n)++;
}

/* The proof mark of a step at (x, y). */
static void
s_mark(tool_buf_t *b, const audit_row_t *r, int x, int y)
{
    tool_buf_printf(b, "<g class=\"mark\"><title>");
    s_text(b, audit_row_proof(r));
    tool_buf_printf(b, "</title>");
    if (r->sig_checked && !r->sig_ok)
        tool_buf_printf(b, "<path d=\"M%d %dl10 10m0 -10l-10 10\" stroke=\"#c00\" stroke-width=\"3\"/>",
                        x - 5, y - 5);
    else if (r->in_checkpoint)
        tool_buf_printf(b, "<path d=\"M%d %dl4 5l8 -10\" fill=\"none\" stroke=\"#080\" "
                        "stroke-width=\"3\"/>", x - 6, y);
    else
        tool_buf_printf(b, "<circle cx=\"%d\" cy=\"%d\" r=\"5\" fill=\"none\" stroke=\"#888\" "
                        "stroke-width=\"2\"/>", x, y);
    tool_buf_printf(b, "</g>\n");
}

int
audit_case_svg(const char *path, const char *ref, const audit_row_t *rows, size_t n,
               nrm_err_t *err)
{
    static char lanes[S_LANES_MAX][NRM_ID_MAX + 1];
    size_t nl = 0;
    for (size_t i = 0; i < n; i++) {
        (void) s_lane(lanes, &nl, rows[i].sender);
        (void) s_lane(lanes, &nl, rows[i].recipient);
    }
    int width = S_LEFT + (int) n * S_COL + 60, height = S_TOP + (int) nl * S_LANE + 70;
    tool_buf_t b;
    tool_buf_init(&b, S_SVG_MAX);
    tool_buf_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
                    "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
                    "<defs><marker id=\"arrow\" markerWidth=\"10\" markerHeight=\"8\" refX=\"9\" "
                    "refY=\"4\" orient=\"auto\"><path d=\"M0 0L10 4L0 8z\" fill=\"#246\"/></marker></defs>\n"
                    "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n"
                    "<text x=\"10\" y=\"24\" font-size=\"16\" font-weight=\"bold\">case ",
                    width, height, width, height);
    s_text(&b, ref);
    tool_buf_printf(&b, "</text>\n<text x=\"10\" y=\"44\" fill=\"#555\">%zu steps; "
                    "check: signature verified and in the broker's signed checkpoint; "
                    "circle: not yet in a checkpoint; red cross: does not verify</text>\n", n);
    for (size_t l = 0; l < nl; l++) {
        int y = S_TOP + (int) l * S_LANE + S_LANE / 2;
        tool_buf_printf(&b, "<rect x=\"0\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>\n"
                        "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#bbb\"/>\n"
                        "<text x=\"10\" y=\"%d\" font-weight=\"bold\">",
                        y - S_LANE / 2, width, S_LANE, l % 2 ? "#f4f6f8" : "#fff",
                        S_LEFT, y, width - 20, y, y + 4);
        s_text(&b, lanes[l]);
        tool_buf_printf(&b, "</text>\n");
    }
    for (size_t i = 0; i < n; i++) {
        const audit_row_t *r = &rows[i];
        int x = S_LEFT + 40 + (int) i * S_COL;
        int ys = S_TOP + s_lane(lanes, &nl, r->sender) * S_LANE + S_LANE / 2;
        int yr = S_TOP + s_lane(lanes, &nl, r->recipient) * S_LANE + S_LANE / 2;
        char when[32];
        nrm_time_format(r->time_ms, when, sizeof when);
        tool_buf_printf(&b, "<g class=\"step\" id=\"seq-%llu\"><title>record %llu: %s ",
                        (unsigned long long) r->seq, (unsigned long long) r->seq,
                        nrm_record_kind_name(r->kind));
        s_text(&b, r->sender);
        tool_buf_printf(&b, " -&gt; ");
        s_text(&b, r->recipient);
        tool_buf_printf(&b, " %s; %s", r->type, when);
        if (r->reason_code) {
            tool_buf_printf(&b, "; %s: ", nrm_reason_name(r->reason_code));
            s_text(&b, r->reason);
        }
        tool_buf_printf(&b, "</title>\n");
        int ymark;
        if (r->kind == NRM_REC_ACCEPTED) {
            int dy = yr > ys ? -8 : yr < ys ? 8 : 0;
            tool_buf_printf(&b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#246\" "
                            "stroke-width=\"2\" marker-end=\"url(#arrow)\"/>\n", x, ys, x,
                            yr + dy);
            tool_buf_printf(&b, "<text x=\"%d\" y=\"%d\">%s</text>\n", x + 6,
                            (ys + yr) / 2, r->type);
            ymark = ys;
        } else if (r->kind == NRM_REC_DELIVERED) {
            tool_buf_printf(&b, "<circle cx=\"%d\" cy=\"%d\" r=\"6\" fill=\"#246\"/>\n"
                            "<text x=\"%d\" y=\"%d\">delivered</text>\n", x, yr, x + 10, yr - 8);
            ymark = yr;
        } else {
            int y = r->kind == NRM_REC_REJECTED ? ys : yr;
            tool_buf_printf(&b, "<path d=\"M%d %dl12 12m0 -12l-12 12\" stroke=\"#c00\" "
                            "stroke-width=\"3\"/>\n<text x=\"%d\" y=\"%d\" fill=\"#c00\">%s</text>\n",
                            x - 6, y - 6, x + 10, y - 8,
                            r->kind == NRM_REC_REJECTED ? "rejected" : "refused");
            ymark = y;
        }
        s_mark(&b, r, x - 14, ymark - 14);
        tool_buf_printf(&b, "<text x=\"%d\" y=\"%d\" fill=\"#555\" font-size=\"10\" "
                        "text-anchor=\"middle\">#%llu %.8s</text>\n</g>\n", x,
                        height - 30 + (int) (i % 2) * 12, (unsigned long long) r->seq, when + 11);
    }
    tool_buf_printf(&b, "</svg>\n");
    int rc = tool_buf_status(&b, err);
    if (rc == 0)
        rc = nrm_file_write(path, b.data, b.len, 0644, err);
    tool_buf_free(&b);
    return rc;
}
