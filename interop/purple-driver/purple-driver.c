/*
 * purple-driver: a headless libpurple client used as a real third-party test
 * peer for flapjack's OSCAR server.
 *
 * It links the system libpurple (Debian bookworm, 2.14.x), loads the OSCAR
 * protocol plugins (prpl-aim / prpl-icq) taken from Debian bullseye's
 * libpurple0 2.14.1-1 (bookworm no longer ships them), creates one account,
 * signs on, and is then driven through stdin/stdout:
 *
 *   stdin : one command per line, fields separated by TAB
 *   stdout: one JSON object per line ("event" key), flushed after each line
 *   stderr: human-readable diagnostics; libpurple debug output only when
 *           PURPLE_DEBUG=1
 *
 * See interop/README.md for the full protocol.
 *
 * clientLogin redirection: liboscar requests AOL's fixed https URLs through
 * purple_util_fetch_url_request_len_with_account().  This executable defines
 * (and, being linked with -rdynamic, exports) that function, so the dynamic
 * linker binds liboscar's calls to it; it rewrites the scheme+host prefix to
 * --api-base and forwards to libpurple's implementation found with
 * dlsym(RTLD_NEXT, ...).  The signature libpurple computes still covers the
 * original https://api.oscar.aol.com/... URL.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <glib-unix.h>

#include <purple.h>

#define UI_ID "flapjack-purple-driver"
#define DRIVER_VERSION "1"

#ifndef DEFAULT_PLUGIN_DIR
#define DEFAULT_PLUGIN_DIR "/opt/flapjack-peers/purple-plugins"
#endif

/* ------------------------------------------------------------------------ */
/* global state                                                             */

static struct {
	char *user;
	char *password;
	char *server;
	int port;
	char *login;      /* md5_login | client_login */
	char *encryption; /* no_encryption | require_encryption | opportunistic_encryption */
	char *api_base;   /* http://127.0.0.1:PORT (client_login only) */
	char *user_dir;
	char *plugin_dir;
	char *protocol;   /* prpl-aim | prpl-icq */
	char *cert_policy; /* accept | reject */
	char *auto_reply;  /* never | away | awayidle (libpurple pref) */
	char *client_name; /* NAME[/VERSION] reported as client id, or NULL */
	int timeout;
	gboolean exit_on_disconnect;
	gboolean probe_only;
} opt;

static GMainLoop *loop;
static PurpleAccount *account;
static gboolean user_dir_is_temp;
static gboolean quitting;
static int exit_code;
static gboolean debug_enabled;
static gboolean was_signed_on;
/* room name -> GHashTable* components (copy) of pending chat invitations */
static GHashTable *pending_invites;

/* ------------------------------------------------------------------------ */
/* JSON line output                                                         */

static void
json_escape_into(GString *out, const char *s)
{
	gchar *valid;
	const unsigned char *p;

	if (s == NULL) {
		g_string_append(out, "null");
		return;
	}
	valid = g_utf8_make_valid(s, -1);
	g_string_append_c(out, '"');
	for (p = (const unsigned char *)valid; *p; p++) {
		switch (*p) {
		case '"':  g_string_append(out, "\\\""); break;
		case '\\': g_string_append(out, "\\\\"); break;
		case '\b': g_string_append(out, "\\b"); break;
		case '\f': g_string_append(out, "\\f"); break;
		case '\n': g_string_append(out, "\\n"); break;
		case '\r': g_string_append(out, "\\r"); break;
		case '\t': g_string_append(out, "\\t"); break;
		default:
			if (*p < 0x20)
				g_string_append_printf(out, "\\u%04x", *p);
			else
				g_string_append_c(out, (char)*p);
		}
	}
	g_string_append_c(out, '"');
	g_free(valid);
}

typedef struct {
	GString *buf;
} Json;

static Json
json_begin(const char *event)
{
	Json j;
	j.buf = g_string_new("{\"event\":");
	json_escape_into(j.buf, event);
	return j;
}

static void
json_key(Json *j, const char *key)
{
	g_string_append_c(j->buf, ',');
	json_escape_into(j->buf, key);
	g_string_append_c(j->buf, ':');
}

static void
json_str(Json *j, const char *key, const char *val)
{
	json_key(j, key);
	json_escape_into(j->buf, val);
}

static void
json_bool(Json *j, const char *key, gboolean val)
{
	json_key(j, key);
	g_string_append(j->buf, val ? "true" : "false");
}

static void
json_int(Json *j, const char *key, gint64 val)
{
	json_key(j, key);
	g_string_append_printf(j->buf, "%" G_GINT64_FORMAT, val);
}

/* raw: caller guarantees valid JSON */
static void
json_raw(Json *j, const char *key, const char *raw)
{
	json_key(j, key);
	g_string_append(j->buf, raw);
}

static gboolean stdout_dead;
static void start_quit(int code);

static void
json_emit(Json *j)
{
	g_string_append(j->buf, "}\n");
	if (!stdout_dead &&
	    (fwrite(j->buf->str, 1, j->buf->len, stdout) != j->buf->len ||
	     fflush(stdout) != 0)) {
		/* Nobody is listening any more: sign off and clean up. */
		stdout_dead = TRUE;
		fprintf(stderr, "purple-driver: stdout closed, signing off\n");
		if (loop != NULL)
			start_quit(3);
	}
	g_string_free(j->buf, TRUE);
	j->buf = NULL;
}

static void
emit_simple(const char *event)
{
	Json j = json_begin(event);
	json_emit(&j);
}

static void
emit_log(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static void
emit_log(const char *fmt, ...)
{
	va_list ap;
	gchar *text;
	Json j;

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	j = json_begin("log");
	json_str(&j, "text", text);
	json_emit(&j);
	g_free(text);
}

static void
emit_command_error(const char *command, const char *reason)
{
	Json j = json_begin("command_error");
	json_str(&j, "command", command);
	json_str(&j, "reason", reason);
	json_emit(&j);
}

/* ------------------------------------------------------------------------ */
/* URL fetch interposition (clientLogin / startOSCARSession redirection)    */

static const char *const aol_prefixes[] = {
	"https://api.screenname.aol.com",
	"https://api.oscar.aol.com",
	"https://api.login.icq.net",
	"https://api.icq.net",
	"https://kdc.uas.aol.com",
	NULL
};

/* Without --api-base the AOL URLs are sent to a closed local port, so the
 * driver never tries to reach the (dead) public AOL hosts. */
#define NO_API_BASE "http://127.0.0.1:1"

/* Returns a newly allocated rewritten URL, or NULL if unchanged. */
static char *
rewrite_url(const char *url)
{
	int i;
	const char *base = (opt.api_base && *opt.api_base) ? opt.api_base : NO_API_BASE;
	if (url == NULL)
		return NULL;
	for (i = 0; aol_prefixes[i] != NULL; i++) {
		size_t n = strlen(aol_prefixes[i]);
		if (g_ascii_strncasecmp(url, aol_prefixes[i], n) == 0 &&
		    (url[n] == '/' || url[n] == '?' || url[n] == '\0' || url[n] == ':')) {
			const char *rest = url + n;
			size_t blen = strlen(base);
			/* keep an explicit :port of the original only if there is one (there never is) */
			if (*rest == ':') {
				rest = strchr(rest, '/');
				if (rest == NULL)
					rest = "";
			}
			while (blen > 0 && base[blen - 1] == '/')
				blen--;
			return g_strdup_printf("%.*s%s", (int)blen, base, rest);
		}
	}
	return NULL;
}

static void
emit_http_fetch(const char *url, const char *rewritten, gboolean full,
                gboolean has_request)
{
	Json j = json_begin("http_fetch");
	json_str(&j, "url", url);
	json_str(&j, "fetched", rewritten ? rewritten : url);
	json_bool(&j, "full", full);
	json_bool(&j, "raw_request", has_request);
	json_emit(&j);
}

typedef PurpleUtilFetchUrlData *(*fetch_len_fn)(PurpleAccount *, const gchar *,
		gboolean, const gchar *, gboolean, const gchar *, gboolean, gssize,
		PurpleUtilFetchUrlCallback, gpointer);
typedef PurpleUtilFetchUrlData *(*fetch_data_len_fn)(PurpleAccount *,
		const char *, gboolean, const char *, gboolean, const char *, gsize,
		gboolean, gssize, PurpleUtilFetchUrlCallback, void *);

/* Called by liboscar 2.14.1 (clientlogin.c) for both the clientLogin POST
 * (full=TRUE, raw request "POST /auth/clientLogin HTTP/1.0" without Host
 * header) and the startOSCARSession GET (full=TRUE, request=NULL => libpurple
 * writes "GET <absolute URL> HTTP/1.0"). */
PurpleUtilFetchUrlData *
purple_util_fetch_url_request_len_with_account(PurpleAccount *acct,
		const gchar *url, gboolean full, const gchar *user_agent,
		gboolean http11, const gchar *request, gboolean include_headers,
		gssize max_len, PurpleUtilFetchUrlCallback callback, gpointer data)
{
	static fetch_len_fn real;
	PurpleUtilFetchUrlData *ret;
	char *rewritten;

	if (real == NULL) {
		real = (fetch_len_fn)dlsym(RTLD_NEXT,
				"purple_util_fetch_url_request_len_with_account");
		if (real == NULL) {
			fprintf(stderr, "purple-driver: dlsym(RTLD_NEXT) failed: %s\n", dlerror());
			abort();
		}
	}
	rewritten = rewrite_url(url);
	emit_http_fetch(url, rewritten, full, request != NULL);
	ret = real(acct, rewritten ? rewritten : url, full, user_agent, http11,
	           request, include_headers, max_len, callback, data);
	g_free(rewritten);
	return ret;
}

/* Also referenced by liboscar (kerberos.c); interposed for completeness.
 * libpurple's own non-data variant may call this one internally: the URL is
 * then already rewritten and passes through unchanged. */
PurpleUtilFetchUrlData *
purple_util_fetch_url_request_data_len_with_account(PurpleAccount *acct,
		const char *url, gboolean full, const char *user_agent,
		gboolean http11, const char *request, gsize request_len,
		gboolean include_headers, gssize max_len,
		PurpleUtilFetchUrlCallback callback, void *data)
{
	static fetch_data_len_fn real;
	PurpleUtilFetchUrlData *ret;
	char *rewritten;

	if (real == NULL) {
		real = (fetch_data_len_fn)dlsym(RTLD_NEXT,
				"purple_util_fetch_url_request_data_len_with_account");
		if (real == NULL) {
			fprintf(stderr, "purple-driver: dlsym(RTLD_NEXT) failed: %s\n", dlerror());
			abort();
		}
	}
	rewritten = rewrite_url(url);
	if (rewritten != NULL)
		emit_http_fetch(url, rewritten, full, request != NULL);
	ret = real(acct, rewritten ? rewritten : url, full, user_agent, http11,
	           request, request_len, include_headers, max_len, callback, data);
	g_free(rewritten);
	return ret;
}

/* ------------------------------------------------------------------------ */
/* GLib event loop ops                                                      */

#define PURPLE_GLIB_READ_COND  (G_IO_IN | G_IO_HUP | G_IO_ERR)
#define PURPLE_GLIB_WRITE_COND (G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL)

typedef struct {
	PurpleInputFunction function;
	guint result;
	gpointer data;
} IoClosure;

static void
io_destroy(gpointer data)
{
	g_free(data);
}

static gboolean
io_invoke(GIOChannel *source, GIOCondition condition, gpointer data)
{
	IoClosure *closure = data;
	PurpleInputCondition cond = 0;

	if (condition & PURPLE_GLIB_READ_COND)
		cond |= PURPLE_INPUT_READ;
	if (condition & PURPLE_GLIB_WRITE_COND)
		cond |= PURPLE_INPUT_WRITE;
	closure->function(closure->data, g_io_channel_unix_get_fd(source), cond);
	return TRUE;
}

static guint
glib_input_add(gint fd, PurpleInputCondition condition,
               PurpleInputFunction function, gpointer data)
{
	IoClosure *closure = g_new0(IoClosure, 1);
	GIOChannel *channel;
	GIOCondition cond = 0;

	closure->function = function;
	closure->data = data;
	if (condition & PURPLE_INPUT_READ)
		cond |= PURPLE_GLIB_READ_COND;
	if (condition & PURPLE_INPUT_WRITE)
		cond |= PURPLE_GLIB_WRITE_COND;
	channel = g_io_channel_unix_new(fd);
	closure->result = g_io_add_watch_full(channel, G_PRIORITY_DEFAULT, cond,
	                                      io_invoke, closure, io_destroy);
	g_io_channel_unref(channel);
	return closure->result;
}

static PurpleEventLoopUiOps eventloop_ops = {
	g_timeout_add,
	g_source_remove,
	glib_input_add,
	g_source_remove,
	NULL,                 /* input_get_error */
	g_timeout_add_seconds,
	NULL, NULL, NULL
};

/* ------------------------------------------------------------------------ */
/* debug ops: stderr only, only with PURPLE_DEBUG=1                         */

static void
debug_print(PurpleDebugLevel level, const char *category, const char *arg_s)
{
	static const char *names[] = { "all", "misc", "info", "warning", "error", "fatal" };
	const char *lv = (level >= 0 && level <= PURPLE_DEBUG_FATAL) ? names[level] : "?";
	fprintf(stderr, "[purple %s] %s: %s", lv, category ? category : "-", arg_s ? arg_s : "");
	if (arg_s == NULL || *arg_s == '\0' || arg_s[strlen(arg_s) - 1] != '\n')
		fputc('\n', stderr);
}

static gboolean
debug_is_enabled(PurpleDebugLevel level G_GNUC_UNUSED, const char *category G_GNUC_UNUSED)
{
	return debug_enabled;
}

static PurpleDebugUiOps debug_ops = {
	debug_print,
	debug_is_enabled,
	NULL, NULL, NULL, NULL
};

/* ------------------------------------------------------------------------ */
/* request ops: certificate prompts are answered automatically              */

typedef struct {
	GCallback cb;
	void *user_data;
	int action;
	guint source;
	gboolean firing; /* callback running */
	gboolean closed; /* closed by libpurple while the callback ran */
} PendingAction;

static gboolean
pending_action_fire(gpointer data)
{
	PendingAction *pa = data;
	pa->source = 0;
	pa->firing = TRUE;
	if (pa->cb != NULL)
		((PurpleRequestActionCb)pa->cb)(pa->user_data, pa->action);
	pa->firing = FALSE;
	if (pa->closed) {
		/* libpurple already closed the request from inside the callback */
		g_free(pa);
		return FALSE;
	}
	/* Like a real UI after a button press; this calls req_close below,
	 * which frees pa. */
	purple_request_close(PURPLE_REQUEST_ACTION, pa);
	return FALSE;
}

static void *
handle_action(const char *title, const char *primary, const char *secondary,
              int default_action, size_t action_count, va_list actions)
{
	PendingAction *pa;
	GCallback *cbs;
	const char **labels;
	size_t i;
	int chosen = default_action;
	gboolean is_cert;
	Json j;

	cbs = g_new0(GCallback, action_count ? action_count : 1);
	labels = g_new0(const char *, action_count ? action_count : 1);
	for (i = 0; i < action_count; i++) {
		labels[i] = va_arg(actions, const char *);
		cbs[i] = va_arg(actions, GCallback);
	}

	is_cert = (title && strcmp(title, "SSL Certificate Verification") == 0) ||
	          (primary && g_str_has_prefix(primary, "Accept certificate for "));

	if (is_cert) {
		gboolean accept = g_strcmp0(opt.cert_policy, "reject") != 0;
		char *host = NULL;
		int accept_idx = -1, reject_idx = -1;
		for (i = 0; i < action_count; i++) {
			if (labels[i] && g_str_has_prefix(labels[i], "Accept"))
				accept_idx = (int)i;
			if (labels[i] && g_str_has_prefix(labels[i], "Reject"))
				reject_idx = (int)i;
		}
		if (accept_idx < 0)
			accept_idx = 0;
		if (reject_idx < 0)
			reject_idx = action_count > 1 ? 1 : 0;
		chosen = accept ? accept_idx : reject_idx;
		if (primary && g_str_has_prefix(primary, "Accept certificate for ")) {
			host = g_strdup(primary + strlen("Accept certificate for "));
			if (*host && host[strlen(host) - 1] == '?')
				host[strlen(host) - 1] = '\0';
		}
		j = json_begin(accept ? "cert_accepted" : "cert_rejected");
		json_str(&j, "host", host);
		json_str(&j, "reason", secondary);
		json_emit(&j);
		g_free(host);
	} else {
		j = json_begin("request");
		json_str(&j, "kind", "action");
		json_str(&j, "title", title);
		json_str(&j, "primary", primary);
		json_str(&j, "secondary", secondary);
		json_str(&j, "chosen", (chosen >= 0 && (size_t)chosen < action_count) ? labels[chosen] : NULL);
		json_emit(&j);
	}

	pa = g_new0(PendingAction, 1);
	if (chosen >= 0 && (size_t)chosen < action_count)
		pa->cb = cbs[chosen];
	pa->action = chosen;
	pa->source = g_idle_add(pending_action_fire, pa);
	g_free(cbs);
	g_free(labels);
	return pa;
}

static void *
req_action(const char *title, const char *primary, const char *secondary,
           int default_action, PurpleAccount *acct G_GNUC_UNUSED,
           const char *who G_GNUC_UNUSED, PurpleConversation *conv G_GNUC_UNUSED,
           void *user_data, size_t action_count, va_list actions)
{
	PendingAction *pa = handle_action(title, primary, secondary,
	                                  default_action, action_count, actions);
	pa->user_data = user_data;
	return pa;
}

static void *
req_action_with_icon(const char *title, const char *primary,
                     const char *secondary, int default_action,
                     PurpleAccount *acct G_GNUC_UNUSED, const char *who G_GNUC_UNUSED,
                     PurpleConversation *conv G_GNUC_UNUSED,
                     gconstpointer icon_data G_GNUC_UNUSED, gsize icon_size G_GNUC_UNUSED,
                     void *user_data, size_t action_count, va_list actions)
{
	PendingAction *pa = handle_action(title, primary, secondary,
	                                  default_action, action_count, actions);
	pa->user_data = user_data;
	return pa;
}

static void
emit_unanswered_request(const char *kind, const char *title,
                        const char *primary, const char *secondary)
{
	Json j = json_begin("request");
	json_str(&j, "kind", kind);
	json_str(&j, "title", title);
	json_str(&j, "primary", primary);
	json_str(&j, "secondary", secondary);
	json_str(&j, "chosen", NULL);
	json_emit(&j);
}

/* Other prompts are reported and left unanswered (they stay pending). */
static void *
req_input(const char *title, const char *primary, const char *secondary,
          const char *default_value G_GNUC_UNUSED, gboolean multiline G_GNUC_UNUSED,
          gboolean masked G_GNUC_UNUSED, gchar *hint G_GNUC_UNUSED,
          const char *ok_text G_GNUC_UNUSED, GCallback ok_cb G_GNUC_UNUSED,
          const char *cancel_text G_GNUC_UNUSED, GCallback cancel_cb G_GNUC_UNUSED,
          PurpleAccount *acct G_GNUC_UNUSED, const char *who G_GNUC_UNUSED,
          PurpleConversation *conv G_GNUC_UNUSED, void *user_data G_GNUC_UNUSED)
{
	emit_unanswered_request("input", title, primary, secondary);
	return g_new0(char, 1);
}

static void *
req_choice(const char *title, const char *primary, const char *secondary,
           int default_value G_GNUC_UNUSED, const char *ok_text G_GNUC_UNUSED,
           GCallback ok_cb G_GNUC_UNUSED, const char *cancel_text G_GNUC_UNUSED,
           GCallback cancel_cb G_GNUC_UNUSED, PurpleAccount *acct G_GNUC_UNUSED,
           const char *who G_GNUC_UNUSED, PurpleConversation *conv G_GNUC_UNUSED,
           void *user_data G_GNUC_UNUSED, va_list choices G_GNUC_UNUSED)
{
	emit_unanswered_request("choice", title, primary, secondary);
	return g_new0(char, 1);
}

static void *
req_fields(const char *title, const char *primary, const char *secondary,
           PurpleRequestFields *fields G_GNUC_UNUSED, const char *ok_text G_GNUC_UNUSED,
           GCallback ok_cb G_GNUC_UNUSED, const char *cancel_text G_GNUC_UNUSED,
           GCallback cancel_cb G_GNUC_UNUSED, PurpleAccount *acct G_GNUC_UNUSED,
           const char *who G_GNUC_UNUSED, PurpleConversation *conv G_GNUC_UNUSED,
           void *user_data G_GNUC_UNUSED)
{
	emit_unanswered_request("fields", title, primary, secondary);
	return g_new0(char, 1);
}

static void *
req_file(const char *title, const char *filename G_GNUC_UNUSED,
         gboolean savedialog G_GNUC_UNUSED, GCallback ok_cb G_GNUC_UNUSED,
         GCallback cancel_cb G_GNUC_UNUSED, PurpleAccount *acct G_GNUC_UNUSED,
         const char *who G_GNUC_UNUSED, PurpleConversation *conv G_GNUC_UNUSED,
         void *user_data G_GNUC_UNUSED)
{
	emit_unanswered_request("file", title, NULL, NULL);
	return g_new0(char, 1);
}

static void *
req_folder(const char *title, const char *dirname G_GNUC_UNUSED,
           GCallback ok_cb G_GNUC_UNUSED, GCallback cancel_cb G_GNUC_UNUSED,
           PurpleAccount *acct G_GNUC_UNUSED, const char *who G_GNUC_UNUSED,
           PurpleConversation *conv G_GNUC_UNUSED, void *user_data G_GNUC_UNUSED)
{
	emit_unanswered_request("folder", title, NULL, NULL);
	return g_new0(char, 1);
}

static void
req_close(PurpleRequestType type, void *ui_handle)
{
	if (ui_handle == NULL)
		return;
	if (type == PURPLE_REQUEST_ACTION) {
		PendingAction *pa = ui_handle;
		if (pa->firing) {
			pa->closed = TRUE;
			return;
		}
		if (pa->source != 0)
			g_source_remove(pa->source);
		g_free(pa);
	} else {
		g_free(ui_handle);
	}
}

static PurpleRequestUiOps request_ops;

static void
init_request_ops(void)
{
	memset(&request_ops, 0, sizeof(request_ops));
	request_ops.request_input = req_input;
	request_ops.request_choice = req_choice;
	request_ops.request_action = req_action;
	request_ops.request_fields = req_fields;
	request_ops.request_file = req_file;
	request_ops.close_request = req_close;
	request_ops.request_folder = req_folder;
	request_ops.request_action_with_icon = req_action_with_icon;
}

/* ------------------------------------------------------------------------ */
/* notify ops                                                               */

static void *
notify_message(PurpleNotifyMsgType type, const char *title,
               const char *primary, const char *secondary)
{
	static const char *types[] = { "error", "warning", "info" };
	Json j = json_begin("notify");
	json_str(&j, "type", ((int)type >= 0 && type <= PURPLE_NOTIFY_MSG_INFO) ? types[type] : "?");
	json_str(&j, "title", title);
	json_str(&j, "primary", primary);
	json_str(&j, "secondary", secondary);
	json_emit(&j);

	/* oscar reports IM errors this way when no conversation exists */
	if (primary && g_str_has_prefix(primary, "Unable to send message to ")) {
		char *to = g_strdup(primary + strlen("Unable to send message to "));
		size_t n = strlen(to);
		if (n > 0 && to[n - 1] == ':')
			to[n - 1] = '\0';
		j = json_begin("im_error");
		json_str(&j, "to", to);
		json_str(&j, "text", secondary);
		json_emit(&j);
		g_free(to);
	}
	return g_new0(char, 1);
}

static void *
notify_formatted(const char *title, const char *primary,
                 const char *secondary, const char *text)
{
	Json j = json_begin("notify");
	json_str(&j, "type", "formatted");
	json_str(&j, "title", title);
	json_str(&j, "primary", primary);
	json_str(&j, "secondary", secondary);
	json_str(&j, "text", text);
	json_emit(&j);
	return g_new0(char, 1);
}

static void *
notify_userinfo(PurpleConnection *gc G_GNUC_UNUSED, const char *who,
                PurpleNotifyUserInfo *user_info)
{
	char *text = purple_notify_user_info_get_text_with_newline(user_info, "\n");
	char *plain = purple_markup_strip_html(text);
	Json j = json_begin("user_info");
	json_str(&j, "name", who);
	json_str(&j, "text", text);
	json_str(&j, "plain", plain);
	json_emit(&j);
	g_free(text);
	g_free(plain);
	return g_new0(char, 1);
}

static void *
notify_uri(const char *uri)
{
	Json j = json_begin("notify");
	json_str(&j, "type", "uri");
	json_str(&j, "text", uri);
	json_emit(&j);
	return g_new0(char, 1);
}

static void
notify_close(PurpleNotifyType type G_GNUC_UNUSED, void *ui_handle)
{
	g_free(ui_handle);
}

static PurpleNotifyUiOps notify_ops;

static void
init_notify_ops(void)
{
	memset(&notify_ops, 0, sizeof(notify_ops));
	notify_ops.notify_message = notify_message;
	notify_ops.notify_formatted = notify_formatted;
	notify_ops.notify_userinfo = notify_userinfo;
	notify_ops.notify_uri = notify_uri;
	notify_ops.close_notify = notify_close;
}

/* ------------------------------------------------------------------------ */
/* conversation ops: capture error / system lines written into conversations */

static void
conv_write_conv(PurpleConversation *conv, const char *name,
                const char *alias G_GNUC_UNUSED, const char *message,
                PurpleMessageFlags flags, time_t mtime G_GNUC_UNUSED)
{
	gboolean is_chat = purple_conversation_get_type(conv) == PURPLE_CONV_TYPE_CHAT;
	char *plain;
	Json j;

	if (!(flags & (PURPLE_MESSAGE_ERROR | PURPLE_MESSAGE_SYSTEM)))
		return;
	plain = purple_markup_strip_html(message);
	if (flags & PURPLE_MESSAGE_ERROR) {
		j = json_begin(is_chat ? "chat_error" : "im_error");
		json_str(&j, is_chat ? "room" : "to", purple_conversation_get_name(conv));
		json_str(&j, "text", plain);
	} else {
		j = json_begin("conv_notice");
		json_str(&j, "conv", purple_conversation_get_name(conv));
		json_str(&j, "kind", is_chat ? "chat" : "im");
		json_str(&j, "from", name);
		json_str(&j, "text", plain);
	}
	json_emit(&j);
	g_free(plain);
}

static PurpleConversationUiOps conv_ops;

/* ------------------------------------------------------------------------ */
/* core ops                                                                 */

static GHashTable *ui_info;

static GHashTable *
core_get_ui_info(void)
{
	if (ui_info == NULL) {
		/* No "name"/"version": liboscar then identifies itself like stock
		 * libpurple (client id string "Purple/2.14.1", TLV 0x0003), instead
		 * of using the UI's name.  --client-name overrides. */
		ui_info = g_hash_table_new(g_str_hash, g_str_equal);
		g_hash_table_insert(ui_info, "client_type", "bot");
		if (opt.client_name != NULL) {
			char *slash = strchr(opt.client_name, '/');
			if (slash != NULL) {
				g_hash_table_insert(ui_info, "name", g_strndup(opt.client_name, slash - opt.client_name));
				g_hash_table_insert(ui_info, "version", slash + 1);
			} else {
				g_hash_table_insert(ui_info, "name", opt.client_name);
			}
		}
	}
	return ui_info;
}

static void
core_ui_init(void)
{
	purple_conversations_set_ui_ops(&conv_ops);
	purple_notify_set_ui_ops(&notify_ops);
	purple_request_set_ui_ops(&request_ops);
}

static PurpleCoreUiOps core_ops = {
	NULL,             /* ui_prefs_init */
	NULL,             /* debug_ui_init */
	core_ui_init,
	NULL,             /* quit */
	core_get_ui_info,
	NULL, NULL, NULL
};

/* ------------------------------------------------------------------------ */
/* signal handlers -> events                                                */

static const char *
connection_error_name(PurpleConnectionError reason)
{
	switch (reason) {
	case PURPLE_CONNECTION_ERROR_NETWORK_ERROR: return "network_error";
	case PURPLE_CONNECTION_ERROR_INVALID_USERNAME: return "invalid_username";
	case PURPLE_CONNECTION_ERROR_AUTHENTICATION_FAILED: return "authentication_failed";
	case PURPLE_CONNECTION_ERROR_AUTHENTICATION_IMPOSSIBLE: return "authentication_impossible";
	case PURPLE_CONNECTION_ERROR_NO_SSL_SUPPORT: return "no_ssl_support";
	case PURPLE_CONNECTION_ERROR_ENCRYPTION_ERROR: return "encryption_error";
	case PURPLE_CONNECTION_ERROR_NAME_IN_USE: return "name_in_use";
	case PURPLE_CONNECTION_ERROR_INVALID_SETTINGS: return "invalid_settings";
	case PURPLE_CONNECTION_ERROR_CERT_NOT_PROVIDED: return "cert_not_provided";
	case PURPLE_CONNECTION_ERROR_CERT_UNTRUSTED: return "cert_untrusted";
	case PURPLE_CONNECTION_ERROR_CERT_EXPIRED: return "cert_expired";
	case PURPLE_CONNECTION_ERROR_CERT_NOT_ACTIVATED: return "cert_not_activated";
	case PURPLE_CONNECTION_ERROR_CERT_HOSTNAME_MISMATCH: return "cert_hostname_mismatch";
	case PURPLE_CONNECTION_ERROR_CERT_FINGERPRINT_MISMATCH: return "cert_fingerprint_mismatch";
	case PURPLE_CONNECTION_ERROR_CERT_SELF_SIGNED: return "cert_self_signed";
	case PURPLE_CONNECTION_ERROR_CERT_OTHER_ERROR: return "cert_other_error";
	case PURPLE_CONNECTION_ERROR_OTHER_ERROR: return "other_error";
	}
	return "unknown";
}

static gboolean
exit_after_disconnect(gpointer data G_GNUC_UNUSED)
{
	if (!quitting) {
		exit_code = 1;
		g_main_loop_quit(loop);
	}
	return FALSE;
}

static void
on_signed_on(PurpleConnection *gc, gpointer data G_GNUC_UNUSED)
{
	PurpleAccount *acct = purple_connection_get_account(gc);
	Json j = json_begin("signed_on");
	was_signed_on = TRUE;
	json_str(&j, "user", purple_account_get_username(acct));
	json_str(&j, "display_name", purple_connection_get_display_name(gc));
	json_emit(&j);
}

static void
on_signed_off(PurpleConnection *gc G_GNUC_UNUSED, gpointer data G_GNUC_UNUSED)
{
	Json j = json_begin("signed_off");
	json_bool(&j, "was_signed_on", was_signed_on);
	json_emit(&j);
	was_signed_on = FALSE;
	if (opt.exit_on_disconnect)
		g_idle_add(exit_after_disconnect, NULL);
}

static void
on_connection_error(PurpleConnection *gc G_GNUC_UNUSED, PurpleConnectionError reason,
                    const char *description, gpointer data G_GNUC_UNUSED)
{
	Json j = json_begin("connection_error");
	json_str(&j, "reason", connection_error_name(reason));
	json_int(&j, "code", reason);
	json_str(&j, "description", description);
	json_emit(&j);
	if (opt.exit_on_disconnect)
		g_idle_add(exit_after_disconnect, NULL);
}

static void
on_account_connecting(PurpleAccount *acct G_GNUC_UNUSED, gpointer data G_GNUC_UNUSED)
{
	Json j = json_begin("connecting");
	json_str(&j, "server", opt.server);
	json_int(&j, "port", opt.port);
	json_str(&j, "login", opt.login);
	json_str(&j, "encryption", opt.encryption);
	json_emit(&j);
}

static void
emit_buddy(PurpleBuddy *buddy, const char *cause)
{
	PurplePresence *presence;
	PurpleStatus *status;
	const char *msg = NULL;
	Json j;

	if (purple_buddy_get_account(buddy) != account)
		return;
	presence = purple_buddy_get_presence(buddy);
	status = purple_presence_get_active_status(presence);
	if (status != NULL)
		msg = purple_status_get_attr_string(status, "message");
	j = json_begin("buddy");
	json_str(&j, "name", purple_buddy_get_name(buddy));
	json_bool(&j, "online", purple_presence_is_online(presence));
	json_bool(&j, "away", status != NULL && !purple_status_is_available(status) &&
	                      purple_presence_is_online(presence));
	json_bool(&j, "idle", purple_presence_is_idle(presence));
	json_int(&j, "idle_since", (gint64)purple_presence_get_idle_time(presence));
	json_str(&j, "status", status ? purple_status_get_id(status) : NULL);
	json_str(&j, "message", msg);
	json_str(&j, "cause", cause);
	json_emit(&j);
}

static void
on_buddy_signed_on(PurpleBuddy *buddy, gpointer data G_GNUC_UNUSED)
{
	emit_buddy(buddy, "signed_on");
}

static void
on_buddy_signed_off(PurpleBuddy *buddy, gpointer data G_GNUC_UNUSED)
{
	emit_buddy(buddy, "signed_off");
}

static void
on_buddy_status_changed(PurpleBuddy *buddy, PurpleStatus *old G_GNUC_UNUSED,
                        PurpleStatus *new_status G_GNUC_UNUSED, gpointer data G_GNUC_UNUSED)
{
	emit_buddy(buddy, "status_changed");
}

static void
on_buddy_idle_changed(PurpleBuddy *buddy, gboolean old_idle G_GNUC_UNUSED,
                      gboolean new_idle G_GNUC_UNUSED, gpointer data G_GNUC_UNUSED)
{
	emit_buddy(buddy, "idle_changed");
}

static void
on_received_im(PurpleAccount *acct G_GNUC_UNUSED, char *sender, char *message,
               PurpleConversation *conv G_GNUC_UNUSED, PurpleMessageFlags flags,
               gpointer data G_GNUC_UNUSED)
{
	char *plain = purple_markup_strip_html(message);
	Json j = json_begin("im");
	json_str(&j, "from", sender);
	json_str(&j, "text", message);
	json_str(&j, "plain", plain);
	json_bool(&j, "auto_response", (flags & PURPLE_MESSAGE_AUTO_RESP) != 0);
	json_emit(&j);
	g_free(plain);
}

static void
on_sent_im(PurpleAccount *acct G_GNUC_UNUSED, const char *receiver,
           const char *message, gpointer data G_GNUC_UNUSED)
{
	Json j = json_begin("im_sent");
	json_str(&j, "to", receiver);
	json_str(&j, "text", message);
	json_emit(&j);
}

static void
emit_typing(const char *who, const char *state)
{
	Json j = json_begin("typing");
	json_str(&j, "from", who);
	json_str(&j, "state", state);
	json_emit(&j);
}

static void
on_buddy_typing(PurpleAccount *acct G_GNUC_UNUSED, const char *name, gpointer data G_GNUC_UNUSED)
{
	emit_typing(name, "typing");
}

static void
on_buddy_typed(PurpleAccount *acct G_GNUC_UNUSED, const char *name, gpointer data G_GNUC_UNUSED)
{
	emit_typing(name, "typed");
}

static void
on_buddy_typing_stopped(PurpleAccount *acct G_GNUC_UNUSED, const char *name, gpointer data G_GNUC_UNUSED)
{
	emit_typing(name, "none");
}

static void
on_chat_joined(PurpleConversation *conv, gpointer data G_GNUC_UNUSED)
{
	Json j = json_begin("chat_joined");
	json_str(&j, "room", purple_conversation_get_name(conv));
	json_int(&j, "id", purple_conv_chat_get_id(PURPLE_CONV_CHAT(conv)));
	json_emit(&j);
}

static void
on_chat_left(PurpleConversation *conv, gpointer data G_GNUC_UNUSED)
{
	Json j = json_begin("chat_left");
	json_str(&j, "room", purple_conversation_get_name(conv));
	json_emit(&j);
}

static void
on_received_chat(PurpleAccount *acct G_GNUC_UNUSED, char *sender, char *message,
                 PurpleConversation *conv, PurpleMessageFlags flags G_GNUC_UNUSED,
                 gpointer data G_GNUC_UNUSED)
{
	char *plain = purple_markup_strip_html(message);
	Json j = json_begin("chat");
	json_str(&j, "room", conv ? purple_conversation_get_name(conv) : NULL);
	json_str(&j, "from", sender);
	json_str(&j, "text", message);
	json_str(&j, "plain", plain);
	json_emit(&j);
	g_free(plain);
}

static void
on_chat_buddy_joined(PurpleConversation *conv, const char *name,
                     PurpleConvChatBuddyFlags flags G_GNUC_UNUSED,
                     gboolean new_arrival, gpointer data G_GNUC_UNUSED)
{
	Json j = json_begin("chat_buddy_joined");
	json_str(&j, "room", purple_conversation_get_name(conv));
	json_str(&j, "name", name);
	json_bool(&j, "new_arrival", new_arrival);
	json_emit(&j);
}

static void
on_chat_buddy_left(PurpleConversation *conv, const char *name,
                   const char *reason, gpointer data G_GNUC_UNUSED)
{
	Json j = json_begin("chat_buddy_left");
	json_str(&j, "room", purple_conversation_get_name(conv));
	json_str(&j, "name", name);
	json_str(&j, "reason", reason);
	json_emit(&j);
}

static void
copy_component(gpointer key, gpointer value, gpointer user_data)
{
	g_hash_table_replace((GHashTable *)user_data, g_strdup(key), g_strdup(value));
}

static GHashTable *
copy_components(GHashTable *src)
{
	GHashTable *dst = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	if (src != NULL)
		g_hash_table_foreach(src, copy_component, dst);
	return dst;
}

/* Record the invitation; return -1 so libpurple does not prompt (nor join).
 * The test joins later with "accept_invite\tROOM". */
static gint
on_chat_invited(PurpleAccount *acct G_GNUC_UNUSED, const char *inviter,
                const char *chat, const char *invite_message,
                GHashTable *components, gpointer data G_GNUC_UNUSED)
{
	Json j = json_begin("chat_invite");
	json_str(&j, "room", chat);
	json_str(&j, "from", inviter);
	json_str(&j, "message", invite_message);
	json_emit(&j);
	if (chat != NULL)
		g_hash_table_replace(pending_invites, g_strdup(chat), copy_components(components));
	return -1;
}

static void
connect_signals(void)
{
	static int handle;
	void *conn_h = purple_connections_get_handle();
	void *blist_h = purple_blist_get_handle();
	void *conv_h = purple_conversations_get_handle();
	void *acct_h = purple_accounts_get_handle();

	purple_signal_connect(conn_h, "signed-on", &handle, PURPLE_CALLBACK(on_signed_on), NULL);
	purple_signal_connect(conn_h, "signed-off", &handle, PURPLE_CALLBACK(on_signed_off), NULL);
	purple_signal_connect(conn_h, "connection-error", &handle, PURPLE_CALLBACK(on_connection_error), NULL);
	purple_signal_connect(acct_h, "account-connecting", &handle, PURPLE_CALLBACK(on_account_connecting), NULL);
	purple_signal_connect(blist_h, "buddy-signed-on", &handle, PURPLE_CALLBACK(on_buddy_signed_on), NULL);
	purple_signal_connect(blist_h, "buddy-signed-off", &handle, PURPLE_CALLBACK(on_buddy_signed_off), NULL);
	purple_signal_connect(blist_h, "buddy-status-changed", &handle, PURPLE_CALLBACK(on_buddy_status_changed), NULL);
	purple_signal_connect(blist_h, "buddy-idle-changed", &handle, PURPLE_CALLBACK(on_buddy_idle_changed), NULL);
	purple_signal_connect(conv_h, "received-im-msg", &handle, PURPLE_CALLBACK(on_received_im), NULL);
	purple_signal_connect(conv_h, "sent-im-msg", &handle, PURPLE_CALLBACK(on_sent_im), NULL);
	purple_signal_connect(conv_h, "buddy-typing", &handle, PURPLE_CALLBACK(on_buddy_typing), NULL);
	purple_signal_connect(conv_h, "buddy-typed", &handle, PURPLE_CALLBACK(on_buddy_typed), NULL);
	purple_signal_connect(conv_h, "buddy-typing-stopped", &handle, PURPLE_CALLBACK(on_buddy_typing_stopped), NULL);
	purple_signal_connect(conv_h, "chat-joined", &handle, PURPLE_CALLBACK(on_chat_joined), NULL);
	purple_signal_connect(conv_h, "chat-left", &handle, PURPLE_CALLBACK(on_chat_left), NULL);
	purple_signal_connect(conv_h, "received-chat-msg", &handle, PURPLE_CALLBACK(on_received_chat), NULL);
	purple_signal_connect(conv_h, "chat-buddy-joined", &handle, PURPLE_CALLBACK(on_chat_buddy_joined), NULL);
	purple_signal_connect(conv_h, "chat-buddy-left", &handle, PURPLE_CALLBACK(on_chat_buddy_left), NULL);
	purple_signal_connect(conv_h, "chat-invited", &handle, PURPLE_CALLBACK(on_chat_invited), NULL);
}

/* ------------------------------------------------------------------------ */
/* commands                                                                 */

static PurpleConnection *
require_connection(const char *cmd)
{
	PurpleConnection *gc = purple_account_get_connection(account);
	if (gc == NULL || purple_connection_get_state(gc) != PURPLE_CONNECTED) {
		emit_command_error(cmd, "not signed on");
		return NULL;
	}
	return gc;
}

static void
emit_buddies(void)
{
	PurpleBlistNode *gnode, *cnode, *bnode;
	GString *groups = g_string_new("[");
	gboolean first_group = TRUE;
	Json j;

	for (gnode = purple_blist_get_root(); gnode; gnode = purple_blist_node_get_sibling_next(gnode)) {
		gboolean first_buddy = TRUE;
		GString *buddies;
		if (!PURPLE_BLIST_NODE_IS_GROUP(gnode))
			continue;
		buddies = g_string_new("[");
		for (cnode = purple_blist_node_get_first_child(gnode); cnode;
		     cnode = purple_blist_node_get_sibling_next(cnode)) {
			if (!PURPLE_BLIST_NODE_IS_CONTACT(cnode))
				continue;
			for (bnode = purple_blist_node_get_first_child(cnode); bnode;
			     bnode = purple_blist_node_get_sibling_next(bnode)) {
				PurpleBuddy *b;
				if (!PURPLE_BLIST_NODE_IS_BUDDY(bnode))
					continue;
				b = (PurpleBuddy *)bnode;
				if (purple_buddy_get_account(b) != account)
					continue;
				if (!first_buddy)
					g_string_append_c(buddies, ',');
				json_escape_into(buddies, purple_buddy_get_name(b));
				first_buddy = FALSE;
			}
		}
		g_string_append_c(buddies, ']');
		if (!first_group)
			g_string_append_c(groups, ',');
		g_string_append(groups, "{\"name\":");
		json_escape_into(groups, purple_group_get_name((PurpleGroup *)gnode));
		g_string_append(groups, ",\"buddies\":");
		g_string_append(groups, buddies->str);
		g_string_append_c(groups, '}');
		g_string_free(buddies, TRUE);
		first_group = FALSE;
	}
	g_string_append_c(groups, ']');

	j = json_begin("buddies");
	json_raw(&j, "groups", groups->str);
	json_emit(&j);
	g_string_free(groups, TRUE);
}

static void
emit_privacy(void)
{
	GString *permit = g_string_new("["), *deny = g_string_new("[");
	GSList *l;
	Json j;

	for (l = account->permit; l; l = l->next) {
		if (permit->len > 1)
			g_string_append_c(permit, ',');
		json_escape_into(permit, l->data);
	}
	for (l = account->deny; l; l = l->next) {
		if (deny->len > 1)
			g_string_append_c(deny, ',');
		json_escape_into(deny, l->data);
	}
	g_string_append_c(permit, ']');
	g_string_append_c(deny, ']');
	j = json_begin("privacy");
	json_int(&j, "mode", purple_account_get_privacy_type(account));
	json_raw(&j, "permit", permit->str);
	json_raw(&j, "deny", deny->str);
	json_emit(&j);
	g_string_free(permit, TRUE);
	g_string_free(deny, TRUE);
}

static gboolean
do_quit(gpointer data G_GNUC_UNUSED)
{
	if (account != NULL && purple_account_get_enabled(account, UI_ID))
		purple_account_set_enabled(account, UI_ID, FALSE);
	if (account != NULL && !purple_account_is_disconnected(account))
		purple_account_disconnect(account);
	g_main_loop_quit(loop);
	return FALSE;
}

static void
start_quit(int code)
{
	if (quitting)
		return;
	quitting = TRUE;
	exit_code = code;
	/* Give libpurple a moment to flush anything written just before. */
	g_timeout_add(150, do_quit, NULL);
}

static int
parse_privacy_mode(const char *s)
{
	if (!g_strcmp0(s, "allow_all")) return PURPLE_PRIVACY_ALLOW_ALL;
	if (!g_strcmp0(s, "deny_all")) return PURPLE_PRIVACY_DENY_ALL;
	if (!g_strcmp0(s, "allow_users")) return PURPLE_PRIVACY_ALLOW_USERS;
	if (!g_strcmp0(s, "deny_users")) return PURPLE_PRIVACY_DENY_USERS;
	if (!g_strcmp0(s, "allow_buddylist")) return PURPLE_PRIVACY_ALLOW_BUDDYLIST;
	return -1;
}

static void
handle_command(char *line)
{
	char **f;
	guint n;
	const char *cmd;
	PurpleConnection *gc;

	g_strchomp(line);
	if (*line == '\0')
		return;
	f = g_strsplit(line, "\t", -1);
	n = g_strv_length(f);
	cmd = f[0];

#define NEED(k) do { if (n < (k) + 1) { emit_command_error(cmd, "missing arguments"); goto out; } } while (0)

	if (!strcmp(cmd, "quit")) {
		start_quit(0);
	} else if (!strcmp(cmd, "ping")) {
		Json j = json_begin("pong");
		if (n > 1)
			json_str(&j, "token", f[1]);
		json_emit(&j);
	} else if (!strcmp(cmd, "buddies")) {
		emit_buddies();
	} else if (!strcmp(cmd, "privacy_list")) {
		emit_privacy();
	} else if (!strcmp(cmd, "im")) {
		PurpleConversation *conv;
		NEED(2);
		if ((gc = require_connection(cmd)) == NULL)
			goto out;
		conv = purple_find_conversation_with_account(PURPLE_CONV_TYPE_IM, f[1], account);
		if (conv == NULL)
			conv = purple_conversation_new(PURPLE_CONV_TYPE_IM, account, f[1]);
		purple_conv_im_send(PURPLE_CONV_IM(conv), f[2]);
	} else if (!strcmp(cmd, "add")) {
		PurpleGroup *group;
		PurpleBuddy *buddy;
		NEED(1);
		if ((gc = require_connection(cmd)) == NULL)
			goto out;
		group = purple_find_group(n > 2 && *f[2] ? f[2] : "Buddies");
		if (group == NULL) {
			group = purple_group_new(n > 2 && *f[2] ? f[2] : "Buddies");
			purple_blist_add_group(group, NULL);
		}
		buddy = purple_find_buddy_in_group(account, f[1], group);
		if (buddy == NULL) {
			buddy = purple_buddy_new(account, f[1], NULL);
			purple_blist_add_buddy(buddy, NULL, group, NULL);
			purple_account_add_buddy(account, buddy);
		} else {
			emit_command_error(cmd, "buddy already in group");
		}
	} else if (!strcmp(cmd, "remove")) {
		GSList *buddies, *l;
		NEED(1);
		if ((gc = require_connection(cmd)) == NULL)
			goto out;
		buddies = purple_find_buddies(account, f[1]);
		if (buddies == NULL)
			emit_command_error(cmd, "no such buddy");
		for (l = buddies; l; l = l->next) {
			PurpleBuddy *b = l->data;
			purple_account_remove_buddy(account, b, purple_buddy_get_group(b));
			purple_blist_remove_buddy(b);
		}
		g_slist_free(buddies);
	} else if (!strcmp(cmd, "away")) {
		if ((gc = require_connection(cmd)) == NULL)
			goto out;
		purple_account_set_status(account, "away", TRUE,
		                          "message", n > 1 ? f[1] : "", NULL);
	} else if (!strcmp(cmd, "back")) {
		if ((gc = require_connection(cmd)) == NULL)
			goto out;
		purple_account_set_status(account, "available", TRUE, NULL);
	} else if (!strcmp(cmd, "profile")) {
		if ((gc = require_connection(cmd)) == NULL)
			goto out;
		purple_account_set_user_info(account, n > 1 ? f[1] : "");
		serv_set_info(gc, n > 1 ? f[1] : "");
	} else if (!strcmp(cmd, "info")) {
		NEED(1);
		if ((gc = require_connection(cmd)) == NULL)
			goto out;
		serv_get_info(gc, f[1]);
	} else if (!strcmp(cmd, "join")) {
		GHashTable *components;
		NEED(1);
		if ((gc = require_connection(cmd)) == NULL)
			goto out;
		components = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
		g_hash_table_replace(components, g_strdup("room"), g_strdup(f[1]));
		g_hash_table_replace(components, g_strdup("exchange"),
		                     g_strdup(n > 2 && *f[2] ? f[2] : "4"));
		serv_join_chat(gc, components);
		g_hash_table_destroy(components);
	} else if (!strcmp(cmd, "accept_invite")) {
		GHashTable *components;
		NEED(1);
		if ((gc = require_connection(cmd)) == NULL)
			goto out;
		components = g_hash_table_lookup(pending_invites, f[1]);
		if (components == NULL) {
			emit_command_error(cmd, "no pending invitation for that room");
			goto out;
		}
		serv_join_chat(gc, components);
		g_hash_table_remove(pending_invites, f[1]);
	} else if (!strcmp(cmd, "chat") || !strcmp(cmd, "invite") || !strcmp(cmd, "leave")) {
		PurpleConversation *conv;
		NEED(!strcmp(cmd, "leave") ? 1 : 2);
		if ((gc = require_connection(cmd)) == NULL)
			goto out;
		conv = purple_find_conversation_with_account(PURPLE_CONV_TYPE_CHAT, f[1], account);
		if (conv == NULL || purple_conv_chat_has_left(PURPLE_CONV_CHAT(conv))) {
			emit_command_error(cmd, "not in that room");
			goto out;
		}
		if (!strcmp(cmd, "chat"))
			purple_conv_chat_send(PURPLE_CONV_CHAT(conv), f[2]);
		else if (!strcmp(cmd, "invite"))
			serv_chat_invite(gc, purple_conv_chat_get_id(PURPLE_CONV_CHAT(conv)),
			                 n > 3 ? f[3] : "", f[2]);
		else
			purple_conversation_destroy(conv);
	} else if (!strcmp(cmd, "typing")) {
		PurpleTypingState st = PURPLE_TYPING;
		NEED(1);
		if ((gc = require_connection(cmd)) == NULL)
			goto out;
		if (n > 2 && !strcmp(f[2], "typed"))
			st = PURPLE_TYPED;
		else if (n > 2 && !strcmp(f[2], "none"))
			st = PURPLE_NOT_TYPING;
		serv_send_typing(gc, f[1], st);
	} else if (!strcmp(cmd, "deny") || !strcmp(cmd, "permit") ||
	           !strcmp(cmd, "undeny") || !strcmp(cmd, "unpermit")) {
		NEED(1);
		if ((gc = require_connection(cmd)) == NULL)
			goto out;
		if (!strcmp(cmd, "deny"))
			purple_privacy_deny_add(account, f[1], FALSE);
		else if (!strcmp(cmd, "permit"))
			purple_privacy_permit_add(account, f[1], FALSE);
		else if (!strcmp(cmd, "undeny"))
			purple_privacy_deny_remove(account, f[1], FALSE);
		else
			purple_privacy_permit_remove(account, f[1], FALSE);
	} else if (!strcmp(cmd, "privacy")) {
		int mode;
		NEED(1);
		if ((gc = require_connection(cmd)) == NULL)
			goto out;
		mode = parse_privacy_mode(f[1]);
		if (mode < 0) {
			emit_command_error(cmd, "unknown privacy mode");
			goto out;
		}
		purple_account_set_privacy_type(account, mode);
		serv_set_permit_deny(gc);
	} else {
		emit_command_error(cmd, "unknown command");
	}
#undef NEED
out:
	g_strfreev(f);
}

static gboolean
stdin_cb(GIOChannel *ch, GIOCondition cond G_GNUC_UNUSED, gpointer data G_GNUC_UNUSED)
{
	for (;;) {
		gchar *line = NULL;
		gsize len = 0;
		GError *err = NULL;
		GIOStatus st = g_io_channel_read_line(ch, &line, &len, NULL, &err);

		if (st == G_IO_STATUS_NORMAL) {
			handle_command(line);
			g_free(line);
			continue;
		}
		g_free(line);
		if (st == G_IO_STATUS_AGAIN)
			return TRUE;
		if (st == G_IO_STATUS_ERROR) {
			fprintf(stderr, "purple-driver: stdin error: %s\n", err ? err->message : "?");
			g_clear_error(&err);
		}
		/* EOF or error: behave like "quit" */
		if (!quitting)
			emit_log("stdin closed; signing off");
		start_quit(0);
		return FALSE;
	}
}

/* ------------------------------------------------------------------------ */
/* misc                                                                     */

static gboolean
on_timeout(gpointer data G_GNUC_UNUSED)
{
	Json j = json_begin("fatal");
	json_str(&j, "reason", "timeout");
	json_int(&j, "seconds", opt.timeout);
	json_emit(&j);
	fprintf(stderr, "purple-driver: timeout after %d seconds, exiting\n", opt.timeout);
	exit_code = 2;
	quitting = TRUE;
	g_main_loop_quit(loop);
	return FALSE;
}

static gboolean
on_unix_signal(gpointer data G_GNUC_UNUSED)
{
	emit_log("terminated by signal; signing off");
	start_quit(0);
	return TRUE;
}

static void
print_to_stderr(const gchar *s)
{
	fputs(s, stderr);
}

static int
rm_rf(const char *path)
{
	GDir *dir;
	const char *name;

	if (g_file_test(path, G_FILE_TEST_IS_SYMLINK) || !g_file_test(path, G_FILE_TEST_IS_DIR))
		return g_unlink(path);
	dir = g_dir_open(path, 0, NULL);
	if (dir != NULL) {
		while ((name = g_dir_read_name(dir)) != NULL) {
			char *child = g_build_filename(path, name, NULL);
			rm_rf(child);
			g_free(child);
		}
		g_dir_close(dir);
	}
	return g_rmdir(path);
}

static void
usage(FILE *out)
{
	fprintf(out,
"usage: purple-driver --user NAME --password PW [options]\n"
"  --server HOST            login (BUCP) server host       [127.0.0.1]\n"
"  --port PORT              login (BUCP) server port       [5190]\n"
"  --login md5_login|client_login                          [md5_login]\n"
"  --encryption no_encryption|opportunistic_encryption|require_encryption\n"
"                                                          [no_encryption]\n"
"  --api-base URL           where clientLogin/startOSCARSession go, e.g.\n"
"                           http://127.0.0.1:8080 (replaces https://api.*.aol.com;\n"
"                           without it those requests go to closed port 127.0.0.1:1)\n"
"  --user-dir DIR           private libpurple user dir (default: fresh temp dir,\n"
"                           removed at exit)\n"
"  --plugin-dir DIR         dir with liboscar/libaim/libicq  [$FLAPJACK_PURPLE_PLUGIN_DIR\n"
"                           or " DEFAULT_PLUGIN_DIR "]\n"
"  --protocol aim|icq       account protocol                [aim]\n"
"  --cert-policy accept|reject  answer to TLS certificate prompts [accept]\n"
"  --auto-reply never|away|awayidle  libpurple auto-reply pref    [away]\n"
"  --client-name NAME[/VER] client id string sent at login [libpurple default,\n"
"                           i.e. Purple/2.14.1]\n"
"  --timeout SECONDS        hard limit for the whole run     [120]\n"
"  --exit-on-disconnect     exit(1) after connection_error / signed_off\n"
"  --probe                  load plugins, print the ready event and exit\n"
"Commands (stdin, TAB-separated) and events (stdout, JSON lines): see interop/README.md\n");
}

static void
parse_args(int argc, char **argv)
{
	enum { O_USER = 1000, O_PASSWORD, O_SERVER, O_PORT, O_LOGIN, O_ENC, O_API,
	       O_USERDIR, O_PLUGINDIR, O_PROTO, O_CERT, O_AUTOREPLY, O_TIMEOUT,
	       O_EXIT, O_PROBE, O_CLIENT, O_HELP };
	static const struct option longopts[] = {
		{ "user", required_argument, NULL, O_USER },
		{ "password", required_argument, NULL, O_PASSWORD },
		{ "server", required_argument, NULL, O_SERVER },
		{ "port", required_argument, NULL, O_PORT },
		{ "login", required_argument, NULL, O_LOGIN },
		{ "encryption", required_argument, NULL, O_ENC },
		{ "api-base", required_argument, NULL, O_API },
		{ "user-dir", required_argument, NULL, O_USERDIR },
		{ "plugin-dir", required_argument, NULL, O_PLUGINDIR },
		{ "protocol", required_argument, NULL, O_PROTO },
		{ "cert-policy", required_argument, NULL, O_CERT },
		{ "auto-reply", required_argument, NULL, O_AUTOREPLY },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "exit-on-disconnect", no_argument, NULL, O_EXIT },
		{ "probe", no_argument, NULL, O_PROBE },
		{ "client-name", required_argument, NULL, O_CLIENT },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	opt.server = "127.0.0.1";
	opt.port = 5190;
	opt.login = "md5_login";
	opt.encryption = "no_encryption";
	opt.protocol = "prpl-aim";
	opt.cert_policy = "accept";
	opt.auto_reply = "away";
	opt.timeout = 120;
	opt.plugin_dir = (char *)g_getenv("FLAPJACK_PURPLE_PLUGIN_DIR");
	if (opt.plugin_dir == NULL || *opt.plugin_dir == '\0')
		opt.plugin_dir = DEFAULT_PLUGIN_DIR;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_USER: opt.user = optarg; break;
		case O_PASSWORD: opt.password = optarg; break;
		case O_SERVER: opt.server = optarg; break;
		case O_PORT: opt.port = atoi(optarg); break;
		case O_LOGIN: opt.login = optarg; break;
		case O_ENC: opt.encryption = optarg; break;
		case O_API: opt.api_base = optarg; break;
		case O_USERDIR: opt.user_dir = optarg; break;
		case O_PLUGINDIR: opt.plugin_dir = optarg; break;
		case O_PROTO:
			if (!strcmp(optarg, "aim") || !strcmp(optarg, "prpl-aim"))
				opt.protocol = "prpl-aim";
			else if (!strcmp(optarg, "icq") || !strcmp(optarg, "prpl-icq"))
				opt.protocol = "prpl-icq";
			else {
				fprintf(stderr, "purple-driver: bad --protocol %s\n", optarg);
				exit(64);
			}
			break;
		case O_CERT: opt.cert_policy = optarg; break;
		case O_AUTOREPLY:
			if (strcmp(optarg, "never") && strcmp(optarg, "away") && strcmp(optarg, "awayidle")) {
				fprintf(stderr, "purple-driver: --auto-reply must be never, away or awayidle\n");
				exit(64);
			}
			opt.auto_reply = optarg;
			break;
		case O_TIMEOUT: opt.timeout = atoi(optarg); break;
		case O_EXIT: opt.exit_on_disconnect = TRUE; break;
		case O_PROBE: opt.probe_only = TRUE; break;
		case O_CLIENT: opt.client_name = optarg; break;
		case O_HELP: case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(64);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "purple-driver: unexpected argument %s\n", argv[optind]);
		exit(64);
	}
	if (strcmp(opt.login, "md5_login") && strcmp(opt.login, "client_login")) {
		fprintf(stderr, "purple-driver: --login must be md5_login or client_login\n");
		exit(64);
	}
	if (strcmp(opt.encryption, "no_encryption") &&
	    strcmp(opt.encryption, "require_encryption") &&
	    strcmp(opt.encryption, "opportunistic_encryption")) {
		fprintf(stderr, "purple-driver: bad --encryption %s\n", opt.encryption);
		exit(64);
	}
	if (strcmp(opt.cert_policy, "accept") && strcmp(opt.cert_policy, "reject")) {
		fprintf(stderr, "purple-driver: --cert-policy must be accept or reject\n");
		exit(64);
	}
	if (!opt.probe_only && (opt.user == NULL || opt.password == NULL)) {
		usage(stderr);
		exit(64);
	}
	if (opt.timeout <= 0)
		opt.timeout = 120;
}

static void
emit_fatal(const char *reason, const char *description)
{
	Json j = json_begin("fatal");
	json_str(&j, "reason", reason);
	json_str(&j, "description", description);
	json_emit(&j);
	fprintf(stderr, "purple-driver: %s: %s\n", reason, description);
}

int
main(int argc, char **argv)
{
	GList *l;
	GString *protos;
	gboolean have_prpl = FALSE;
	GIOChannel *in;
	void *oscar_handle;
	char *oscar_path;
	const char *dbg = g_getenv("PURPLE_DEBUG");
	PurpleSavedStatus *saved;

	signal(SIGPIPE, SIG_IGN);
	parse_args(argc, argv);
	debug_enabled = dbg != NULL && *dbg != '\0' && strcmp(dbg, "0") != 0;
	/* anything libpurple g_print()s must not corrupt the JSON stream */
	g_set_print_handler(print_to_stderr);

	if (opt.user_dir == NULL) {
		GError *err = NULL;
		char *tmp = g_dir_make_tmp("purple-driver-XXXXXX", &err);
		if (tmp == NULL) {
			emit_fatal("user_dir", err ? err->message : "cannot create temp dir");
			return 2;
		}
		opt.user_dir = tmp;
		user_dir_is_temp = TRUE;
	} else if (g_mkdir_with_parents(opt.user_dir, 0700) != 0) {
		emit_fatal("user_dir", g_strerror(errno));
		return 2;
	}

	/* bullseye's libaim.so/libicq.so need liboscar.so.0, and their RUNPATH
	 * (/usr/lib/purple-2) does not exist on bookworm.  Loading liboscar first
	 * lets the dynamic linker satisfy that dependency by soname. */
	oscar_path = g_build_filename(opt.plugin_dir, "liboscar.so.0", NULL);
	oscar_handle = dlopen(oscar_path, RTLD_NOW | RTLD_GLOBAL);
	if (oscar_handle == NULL) {
		char *msg = g_strdup_printf("cannot load %s: %s", oscar_path, dlerror());
		emit_fatal("oscar_plugin", msg);
		g_free(msg);
		return 2;
	}
	g_free(oscar_path);

	init_request_ops();
	init_notify_ops();
	memset(&conv_ops, 0, sizeof(conv_ops));
	conv_ops.write_conv = conv_write_conv;

	purple_util_set_user_dir(opt.user_dir);
	purple_debug_set_enabled(FALSE);
	purple_debug_set_ui_ops(&debug_ops);
	purple_core_set_ui_ops(&core_ops);
	purple_eventloop_set_ui_ops(&eventloop_ops);
	purple_plugins_add_search_path(opt.plugin_dir);

	if (!purple_core_init(UI_ID)) {
		emit_fatal("core_init", "libpurple initialization failed");
		return 2;
	}
	purple_set_blist(purple_blist_new());
	purple_blist_load();
	purple_prefs_load();

	/* deterministic behaviour for tests */
	purple_prefs_set_bool("/purple/logging/log_ims", FALSE);
	purple_prefs_set_bool("/purple/logging/log_chats", FALSE);
	purple_prefs_set_bool("/purple/logging/log_system", FALSE);
	purple_prefs_set_string("/purple/away/idle_reporting", "none");
	purple_prefs_set_bool("/purple/away/away_when_idle", FALSE);
	/* Pidgin's "Auto-reply: When away" (libpurple's default, awayidle, only
	 * answers when away *and* idle, and the driver never reports idle). */
	purple_prefs_set_string("/purple/away/auto_reply", opt.auto_reply);

	protos = g_string_new("[");
	for (l = purple_plugins_get_protocols(); l; l = l->next) {
		const char *id = purple_plugin_get_id(l->data);
		if (protos->len > 1)
			g_string_append_c(protos, ',');
		json_escape_into(protos, id);
		if (!g_strcmp0(id, opt.protocol))
			have_prpl = TRUE;
	}
	g_string_append_c(protos, ']');
	{
		Json j = json_begin("ready");
		json_raw(&j, "protocols", protos->str);
		json_str(&j, "driver", DRIVER_VERSION);
		json_str(&j, "libpurple", purple_core_get_version());
		json_str(&j, "plugin_dir", opt.plugin_dir);
		json_str(&j, "user_dir", opt.user_dir);
		json_bool(&j, "ssl", purple_ssl_is_supported());
		json_emit(&j);
	}
	g_string_free(protos, TRUE);

	if (!have_prpl) {
		char *msg = g_strdup_printf("protocol %s not loaded (plugin dir %s)",
		                            opt.protocol, opt.plugin_dir);
		emit_fatal("no_protocol", msg);
		g_free(msg);
		exit_code = 2;
		goto cleanup;
	}
	if (opt.probe_only)
		goto cleanup;

	pending_invites = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	                                        (GDestroyNotify)g_hash_table_destroy);
	loop = g_main_loop_new(NULL, FALSE);
	connect_signals();

	account = purple_account_new(opt.user, opt.protocol);
	purple_account_set_password(account, opt.password);
	purple_account_set_remember_password(account, TRUE);
	purple_account_set_string(account, "server", opt.server);
	purple_account_set_int(account, "port", opt.port);
	/* liboscar 2.14: "login_type" = md5_login | client_login | kerberos_login */
	purple_account_set_string(account, "login_type", opt.login);
	purple_account_set_string(account, "encryption", opt.encryption);
	purple_accounts_add(account);

	in = g_io_channel_unix_new(STDIN_FILENO);
	g_io_channel_set_encoding(in, NULL, NULL);
	g_io_channel_set_flags(in, G_IO_FLAG_NONBLOCK, NULL);
	g_io_add_watch(in, G_IO_IN | G_IO_HUP | G_IO_ERR, stdin_cb, NULL);

	g_timeout_add_seconds(opt.timeout, on_timeout, NULL);
	g_unix_signal_add(SIGTERM, on_unix_signal, NULL);
	g_unix_signal_add(SIGINT, on_unix_signal, NULL);

	purple_account_set_enabled(account, UI_ID, TRUE);
	saved = purple_savedstatus_new(NULL, PURPLE_STATUS_AVAILABLE);
	purple_savedstatus_activate(saved);

	g_main_loop_run(loop);

	if (exit_code != 2) {
		/* clean exit (quit/EOF/signal/exit-on-disconnect) */
		emit_simple("exiting");
	}

cleanup:
	if (exit_code == 2) {
		/* timeout or fatal error: do not risk blocking in libpurple teardown */
		if (user_dir_is_temp)
			rm_rf(opt.user_dir);
		fflush(stdout);
		_exit(exit_code);
	}
	purple_core_quit();
	if (user_dir_is_temp)
		rm_rf(opt.user_dir);
	fflush(stdout);
	return exit_code;
}
