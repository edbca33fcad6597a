#!/usr/bin/env node
// Patches and rebuilds the native `zookeeper` binding (7.3.0) and the ZooKeeper C client (3.8.0) it bundles, with
// six patches, each described where it is defined below:
// - the fd patch (this comment): a file-descriptor reuse bug that makes a process hang sockets and then abort inside
//   libuv when a ZooKeeper connection breaks (the binding's open issue yfinkelstein/node-zookeeper#262, "Assertion
//   failed: loop->watchers[w->fd] == w" and relatives);
// - the addwatch patch: ZooKeeper 3.6's persistent recursive watches, which the C client lacks (a mirror hears each
//   created or deleted record by name instead of re-listing its shard);
// - the resolve patch: the C client ran getaddrinfo() on every socket event;
// - the send patch: one sendmsg() for many requests (two send() calls each before), and corking;
// - the poll patch: no poll restart and no socket comparison per socket event when nothing changed;
// - the multi patch: `a_multi`, the C client's zoo_amulti() (one transaction of many creates and deletes), which the
//   binding does not expose.
// Run by `npm install` (postinstall); idempotent, patch by patch; `--check` only reports (exit 1 when any patch is
// missing from the sources or from the build's stamp).
//
// The bug: the binding watches the C client's socket with a uv_poll_t and only re-reads the socket from
// zookeeper_interest() in its yield(). The C client also closes the socket (1) inside every asynchronous call when
// the send fails (nonblocking_send), and (2) inside zookeeper_interest() when it returns an error (operation
// timeout, failed connect), after which yield() returned early. Both times the poll handle kept the closed fd
// number. Node then opens its next socket on that number, its events go to the binding's handle, and when the
// binding finally drops the handle, libuv removes Node's socket from epoll: that connection hangs, and the next
// epoll_ctl(MOD) on it fails an assertion (SIGABRT). integration-tests/zookeeper-binding-fd.test.ts reproduces it:
// unpatched, about one socket in eight opened right after a connection reset never hears back.
//
// The patch: libuv polls a duplicate of the C client's socket (fcntl F_DUPFD_CLOEXEC) that only the binding closes,
// so its number cannot be handed to anyone else while the poll handle exists; a new socket from the C client, even
// on the same number, is told apart by its inode. A failed zookeeper_interest() drops the handle and retries in
// 10 ms, and any call that changed the connection state runs yield() at once.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Names this version of the fd patch, in the source and in the stamp written after the rebuild. */
const PATCH_ID = 'tokensync fd patch v2';
/** Names the addWatch patch (persistent recursive watches), in the stamp written after the rebuild. */
const WATCH_PATCH_ID = 'tokensync addwatch patch v1';
/** Names the send patch (one sendmsg() for many requests; corking), in the stamp written after the rebuild. */
const SEND_PATCH_ID = 'tokensync send patch v1';
/** Names the poll patch (the socket's poll left running between events), in the stamp written after the rebuild. */
const POLL_PATCH_ID = 'tokensync poll patch v1';
/** Names the resolve patch (host names resolved at most once a minute while connected), in the stamp. */
const RESOLVE_PATCH_ID = 'tokensync resolve patch v1';
/** Names the multi patch (zoo_amulti exposed as `a_multi`), in the stamp written after the rebuild. */
const MULTI_PATCH_ID = 'tokensync multi patch v2';
const FD_PATCHES = [
  {
    what: 'headers for dup() and fstat()',
    from: `#else
    #include <strings.h>
    #include <errno.h>
#endif`,
    to: `#else
    #include <strings.h>
    #include <errno.h>
    /* ${PATCH_ID}: scripts/patch-zookeeper-binding.mjs in the tokensync package */
    #include <fcntl.h>      /* tokensync patch: fcntl(F_DUPFD_CLOEXEC) */
    #include <sys/stat.h>   /* tokensync patch: fstat() */
    #include <unistd.h>     /* tokensync patch: close() */
#endif`,
  },
  {
    what: 'the poll handle watches a duplicate of the C client socket that only the binding closes',
    from: `        int rc = zookeeper_interest(zhandle, &fd, &interest, &tv);

        if (zk_io && uv_is_active((uv_handle_t*) zk_io)) {
            uv_poll_stop(zk_io);
        }

        if (rc) {
            LOG_ERROR("yield:zookeeper_interest returned error: %d - %s\\n", rc, zerror(rc));
            return;
        }

        if (fd == -1 ) {
            if (zk_io) {
                uv_close((uv_handle_t*) zk_io, delete_on_close);
                zk_io = NULL;
            }
            return;
        }`,
    to: `        int rc = zookeeper_interest(zhandle, &fd, &interest, &tv);

        if (zk_io && uv_is_active((uv_handle_t*) zk_io)) {
            uv_poll_stop(zk_io);
        }

        if (rc) {
            LOG_ERROR("yield:zookeeper_interest returned error: %d - %s\\n", rc, zerror(rc));
            // tokensync patch: the C client has usually closed its socket here (timeout, failed connect).
            // Drop our handle and its duplicate fd, and come back soon: the old code kept the handle and only
            // retried on the timer's previous period.
            drop_poll();
            if (rc != ZINVALIDSTATE) uv_timer_start(&zk_timer, &zk_timer_cb, 10, 100);
            return;
        }

        if (fd == -1 ) {
            drop_poll();
            return;
        }

#ifndef WIN32
        // tokensync patch: libuv polls a duplicate of the C client's socket (io_fd), never the C client's own
        // fd. The C client closes its fd whenever it likes (a failed send inside any call, a timeout inside
        // zookeeper_interest), and the number is then free for the next socket or file Node opens; a handle still
        // polling that number delivered the new socket's events here, and closing the handle removed the new
        // socket from epoll (it hung, then libuv aborted: node-zookeeper#262). The duplicate is ours until
        // drop_poll() closes it, so its number cannot be reused under the handle. A new socket from the C
        // client, even on the same number, is told apart by its inode.
        if (zk_io && !same_socket(fd, io_fd)) {
            drop_poll();
        }
        if (!zk_io) {
            io_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
            if (io_fd == -1) {
                LOG_ERROR("yield: could not duplicate the ZooKeeper socket: %d\\n", errno);
                uv_timer_start(&zk_timer, &zk_timer_cb, 10, 100);
                return;
            }
            zk_io = (uv_poll_t*)malloc(sizeof(uv_poll_t));
            if (!zk_io) {
                LOG_ERROR("Failed to malloc memory for uv_poll_t");
                close(io_fd);
                io_fd = -1;
                return;
            }
            zk_io->data = this;
            uv_poll_init(Nan::GetCurrentEventLoop(), zk_io, io_fd);
        }
        oldFd = fd;
#endif`,
  },
  {
    what: 'drop_poll() and same_socket()',
    from: `    static void zk_io_cb (uv_poll_t *w, int status, int revents) {`,
    to: `    // tokensync patch: closes the poll handle, then the duplicate fd it polled (uv_close has already removed it
    // from epoll by then; libuv does not touch the fd afterwards).
    void drop_poll () {
        if (zk_io) {
            uv_close((uv_handle_t*) zk_io, delete_on_close);
            zk_io = NULL;
        }
#ifndef WIN32
        if (io_fd != -1) {
            close(io_fd);
            io_fd = -1;
        }
#endif
    }

#ifndef WIN32
    // tokensync patch: whether two fds are the same open socket (sockets have distinct inodes).
    static bool same_socket (int a, int b) {
        struct stat sa, sb;
        if (a == -1 || b == -1 || fstat(a, &sa) != 0 || fstat(b, &sb) != 0) {
            return false;
        }
        return sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
    }
#endif

    static void zk_io_cb (uv_poll_t *w, int status, int revents) {`,
  },
  {
    what: 'closing the binding closes the duplicate fd too',
    from: `            if (zk_io) {
                int rc = uv_poll_stop(zk_io);
                LOG_DEBUG("zookeeper_close(%lp) uv_poll_stop result: %d", this, rc);

                uv_close((uv_handle_t*) zk_io, delete_on_close);
                zk_io = NULL;
            }`,
    to: `            if (zk_io) {
                int rc = uv_poll_stop(zk_io);
                LOG_DEBUG("zookeeper_close(%lp) uv_poll_stop result: %d", this, rc);
            }
            drop_poll(); // tokensync patch: also closes the duplicate fd`,
  },
  {
    what: 'io_fd member',
    from: `    #ifdef WIN32
        SOCKET fd;
    #else
        int fd;
    #endif

    int interest;`,
    to: `    #ifdef WIN32
        SOCKET fd;
    #else
        int fd;
        int io_fd = -1; // tokensync patch: our duplicate of fd, the one libuv polls
    #endif

    int interest;`,
  },
  {
    what: 'calls that closed the socket re-read the interest at once',
    from: `#define METHOD_EPILOG(call) \\
        int ret = (zk->zhandle ? (call) : ZINVALIDSTATE); \\
        RETURN_VALUE(info, Nan::New<Int32>(ret))`,
    to: `#define METHOD_EPILOG(call) \\
        int state_before = zk->zhandle ? zoo_state(zk->zhandle) : 0; \\
        int ret = (zk->zhandle ? (call) : ZINVALIDSTATE); \\
        /* tokensync patch: a failed send closes the socket inside the call (nonblocking_send); */ \\
        /* re-read the interest now, so the binding reconnects without waiting for its timer. */ \\
        if (zk->zhandle && zoo_state(zk->zhandle) != state_before) zk->yield(); \\
        RETURN_VALUE(info, Nan::New<Int32>(ret))`,
  },
];

// The addWatch patch. ZooKeeper 3.6 added persistent recursive watches (`addWatch`, opcode 106): one watch on
// /tokens reports every record created or deleted under it, with its path, and stays armed. Curator's CuratorCache
// is built on it. The C client bundled with the binding (3.8.0) has no call for it, so without it a mirror learns
// of a new record only from a one-shot child watch on its shard, and must re-list the shard (getChildren) to see
// the new name and to re-arm the watch: one read per sidecar per token issued anywhere. With it, a sidecar hears
// the created name and reads nothing. The patch adds zoo_aadd_watch() to the C client (its request has the wire
// shape of a delete: a path and an int), delivers events that no one-shot watch asked for to the handle's default
// watcher once zoo_aadd_watch() was called (that is what the server sends for a persistent watch), and exposes it
// to JavaScript as `a_add_watch(path, mode, cb)` (mode 0 persistent, 1 persistent recursive).
const C_CLIENT = 'deps/zookeeper-client-c';
const WATCH_PATCHES = [
  {
    file: `${C_CLIENT}/include/zookeeper.h`,
    what: 'zoo_aadd_watch() declared',
    from: `ZOOAPI int zoo_adelete(zhandle_t *zh, const char *path, int version,
        void_completion_t completion, const void *data);
`,
    to: `ZOOAPI int zoo_adelete(zhandle_t *zh, const char *path, int version,
        void_completion_t completion, const void *data);

/* ${WATCH_PATCH_ID}: ZooKeeper 3.6's addWatch; mode 0 persistent, 1 persistent recursive. Events of a
 * persistent watch go to the handle's default watcher. Needs a 3.6+ server (older ones answer ZUNIMPLEMENTED). */
ZOOAPI int zoo_aadd_watch(zhandle_t *zh, const char *path, int mode,
        void_completion_t completion, const void *data);
`,
  },
  {
    file: `${C_CLIENT}/src/zk_adaptor.h`,
    what: 'a flag on the handle: deliver events no one-shot watch asked for',
    from: `    /** Indicates if we connected to a majority server before */
    char seen_rw_server_before;
};`,
    to: `    /** Indicates if we connected to a majority server before */
    char seen_rw_server_before;
    /** tokensync addwatch patch: set by zoo_aadd_watch(); events without a one-shot watcher go to the default one */
    char deliver_unwatched;
};`,
  },
  {
    file: `${C_CLIENT}/src/zookeeper.c`,
    what: 'zoo_aadd_watch()',
    from: `int zoo_aexists(zhandle_t *zh, const char *path, int watch,
        stat_completion_t sc, const void *data)
{`,
    to: `/* tokensync addwatch patch: addWatch (opcode 106). AddWatchRequest is {ustring path; int mode}, the wire shape of
 * a DeleteRequest {ustring path; int version}; the reply carries nothing a void completion needs. */
int zoo_aadd_watch(zhandle_t *zh, const char *path, int mode,
        void_completion_t completion, const void *data)
{
    struct oarchive *oa;
    struct RequestHeader h = {get_xid(), 106};
    struct DeleteRequest req;
    int rc = DeleteRequest_init(zh, &req, path, mode);
    if (rc != ZOK) {
        return rc;
    }
    oa = create_buffer_oarchive();
    rc = serialize_RequestHeader(oa, "header", &h);
    rc = rc < 0 ? rc : serialize_DeleteRequest(oa, "req", &req);
    enter_critical(zh);
    zh->deliver_unwatched = 1;
    rc = rc < 0 ? rc : add_void_completion(zh, h.xid, completion, data);
    rc = rc < 0 ? rc : queue_buffer_bytes(&zh->to_send, get_buffer(oa),
            get_buffer_len(oa));
    leave_critical(zh);
    free_duplicate_path(req.path, path);
    close_buffer_oarchive(&oa, 0);
    return nonblocking_send(zh, rc);
}

int zoo_aexists(zhandle_t *zh, const char *path, int watch,
        stat_completion_t sc, const void *data)
{`,
  },
  {
    file: `${C_CLIENT}/src/zk_hashtable.c`,
    what: 'events of a persistent watch reach the default watcher',
    from: `        add_for_event(zh->active_child_watchers,path,&list);
        break;
    }
    return list;
}`,
    to: `        add_for_event(zh->active_child_watchers,path,&list);
        break;
    }
    /* tokensync addwatch patch: the server sends an event nobody set a one-shot watch for only for a persistent
     * watch (addWatch); hand it to the default watcher instead of dropping it. */
    if (zh->deliver_unwatched && list->head == 0) {
        watcher_object_t defWatcher;
        defWatcher.watcher=zh->watcher;
        defWatcher.context=zh->context;
        add_to_list(&list, &defWatcher, 1);
    }
    return list;
}`,
  },
  {
    file: 'src/node-zk.cpp',
    what: 'a_add_watch registered',
    from: `        Nan::SetPrototypeMethod(constructor_template,  "a_delete_",  ADelete);
`,
    to: `        Nan::SetPrototypeMethod(constructor_template,  "a_delete_",  ADelete);
        Nan::SetPrototypeMethod(constructor_template,  "a_add_watch",  AAddWatch); // tokensync addwatch patch
`,
  },
  {
    file: 'src/node-zk.cpp',
    what: 'a_add_watch(path, mode, cb)',
    from: `    Local<Object> createStatObject (const struct Stat *stat) {`,
    to: `    // tokensync addwatch patch: addWatch(path, mode, cb); mode 0 persistent, 1 persistent recursive. The
    // watch's events arrive as the handle's created/deleted/changed/child events.
    static void AAddWatch(const Nan::FunctionCallbackInfo<Value>& info) {
        A_METHOD_PROLOG(3);
        Nan::Utf8String _path (toString(info[0]));
        uint32_t mode = toUint(info[1]);

        struct completion_data *data = (struct completion_data *) malloc(sizeof(struct completion_data));
        data->cb = cb;
        data->type = 106;
        data->data = NULL;

        METHOD_EPILOG (zoo_aadd_watch(zk->zhandle, *_path, mode, &void_completion, data));
    }

    Local<Object> createStatObject (const struct Stat *stat) {`,
  },
];

// The resolve patch. The C client's resolution delay defaults to 0, "resolve unconditionally": every
// zookeeper_interest() - which the binding calls after every socket event, so once per reply or notification -
// ran getaddrinfo() on the connect string, and glibc's getaddrinfo() (AI_ADDRCONFIG) dumps the interfaces over
// netlink each time. perf put it at the top of a sidecar issuing tokens and of every sidecar watching them. With
// a delay, a connected handle resolves at most once per delay; a handle without a socket (connecting, reconnecting)
// still resolves every time, so a server that moved is found (zoo_set_servers_resolution_delay, zookeeper.h).
const RESOLVE_PATCHES = [
  {
    file: 'src/node-zk.cpp',
    what: 'host names resolved at most once a minute while connected',
    from: `        zhandle = zookeeper_init(hostPort, main_watcher, session_timeout, &myid, this, 0);
        if (!zhandle) {
            LOG_ERROR("zookeeper_init returned 0!");
            return false;
        }
`,
    to: `        zhandle = zookeeper_init(hostPort, main_watcher, session_timeout, &myid, this, 0);
        if (!zhandle) {
            LOG_ERROR("zookeeper_init returned 0!");
            return false;
        }
        // ${RESOLVE_PATCH_ID}: the default (0) ran getaddrinfo() in every zookeeper_interest(), once per socket event
        zoo_set_servers_resolution_delay(zhandle, 60000);
`,
  },
];

// The send patch. The C client sent every request with two send() calls, the 4-byte length and then the body, one
// TCP segment each (TCP_NODELAY), the moment the request was made. Now one sendmsg() carries the length prefixes
// and bodies of up to 32 queued requests, and a handle can be corked: zoo_set_corked(zh, 1) queues requests
// without sending them, zoo_set_corked(zh, 0) sends what is queued (and returns 1 when some of it is still queued,
// so that the caller re-reads the socket interest). The binding exposes `set_corked(bool)`; ZkClient corks on the
// first request of an event-loop turn and uncorks in setImmediate, so the creates of every HTTP request read in
// one turn leave in one system call and reach a server's network thread as one read. TLS sockets keep the old path.
const SEND_PATCHES = [
  {
    file: `${C_CLIENT}/include/zookeeper.h`,
    what: 'zoo_set_corked() declared',
    from: `ZOOAPI int zoo_aadd_watch(zhandle_t *zh, const char *path, int mode,
        void_completion_t completion, const void *data);
`,
    to: `ZOOAPI int zoo_aadd_watch(zhandle_t *zh, const char *path, int mode,
        void_completion_t completion, const void *data);

/* ${SEND_PATCH_ID}: while corked, requests are queued and not sent; uncorking sends what is queued. Returns ZOK,
 * or 1 when uncorking left data queued (the socket would block): wait for POLLOUT (zookeeper_interest). */
ZOOAPI int zoo_set_corked(zhandle_t *zh, int corked);
`,
  },
  {
    file: `${C_CLIENT}/src/zk_adaptor.h`,
    what: 'a corked flag on the handle',
    from: `    /** used for chroot path at the client side **/
    char *chroot;
`,
    to: `    /** used for chroot path at the client side **/
    char *chroot;
    /** tokensync send patch: set by zoo_set_corked(); requests wait in to_send until it is cleared */
    char corked;
`,
  },
  {
    file: `${C_CLIENT}/src/zookeeper.c`,
    what: 'a corked handle queues requests; zoo_set_corked()',
    from: `static int nonblocking_send(zhandle_t *zh, int rc)
{
    if (adaptor_send_queue(zh, 0) < 0) {`,
    to: `static int nonblocking_send(zhandle_t *zh, int rc)
{
    /* tokensync send patch: queued; zoo_set_corked(zh, 0) sends it */
    if (zh->corked) {
        return (rc < 0) ? ZMARSHALLINGERROR : ZOK;
    }
    if (adaptor_send_queue(zh, 0) < 0) {`,
  },
  {
    file: `${C_CLIENT}/src/zookeeper.c`,
    what: 'zoo_set_corked()',
    from: `int zoo_aget(zhandle_t *zh, const char *path, int watch, data_completion_t dc,
        const void *data)
{`,
    to: `/* tokensync send patch */
int zoo_set_corked(zhandle_t *zh, int corked)
{
    int pending;
    if (!zh) {
        return ZBADARGUMENTS;
    }
    zh->corked = corked ? 1 : 0;
    if (zh->corked) {
        return ZOK;
    }
    nonblocking_send(zh, ZOK);
    lock_buffer_list(&zh->to_send);
    pending = zh->to_send.head != 0;
    unlock_buffer_list(&zh->to_send);
    return pending ? 1 : ZOK;
}

int zoo_aget(zhandle_t *zh, const char *path, int watch, data_completion_t dc,
        const void *data)
{`,
  },
  {
    file: `${C_CLIENT}/src/zookeeper.c`,
    what: 'send_buffers_gathered(): one sendmsg() for up to 32 queued requests',
    from: `/* returns:
 * -1 if recv call failed,`,
    to: `#ifndef _WIN32
#include <sys/uio.h>
/* tokensync send patch: sends the length prefixes and bodies of up to 32 queued buffers in one sendmsg(), and
 * removes from the queue the buffers it sent completely (a partly sent one keeps its offset, as with
 * send_buffer). Returns -1 when the send failed, 0 when it would block, 1 otherwise. */
static int send_buffers_gathered(zhandle_t *zh)
{
    struct iovec iov[64];
    int32_t prefixes[32];
    struct msghdr msg;
    buffer_list_t *b = zh->to_send.head;
    int n = 0, k = 0;
    ssize_t sent;
    while (b != 0 && k < 32) {
        int off = b->curr_offset;
        if (off < 4) {
            prefixes[k] = htonl(b->len);
            iov[n].iov_base = ((char*)&prefixes[k]) + off;
            iov[n].iov_len = 4 - off;
            n++;
            off = 4;
        }
        if (b->len > off - 4) {
            iov[n].iov_base = b->buffer + (off - 4);
            iov[n].iov_len = b->len - (off - 4);
            n++;
        }
        k++;
        b = b->next;
    }
    if (n == 0) {
        return 1;
    }
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = iov;
    msg.msg_iovlen = n;
    sent = sendmsg(zh->fd->sock, &msg, SEND_FLAGS);
    if (sent == -1) {
        return errno == EAGAIN ? 0 : -1;
    }
    while (sent > 0 && zh->to_send.head != 0) {
        buffer_list_t *h = zh->to_send.head;
        int remaining = h->len + (int)sizeof(h->len) - h->curr_offset;
        if (sent >= remaining) {
            sent -= remaining;
            h->curr_offset += remaining;
            remove_buffer(&zh->to_send);
        } else {
            h->curr_offset += (int)sent;
            sent = 0;
        }
    }
    return 1;
}
#endif

/* returns:
 * -1 if recv call failed,`,
  },
  {
    file: `${C_CLIENT}/src/zookeeper.c`,
    what: 'flush_send_queue() sends gathered',
    from: `        rc = send_buffer(zh, zh->to_send.head);
        if(rc==0 && timeout==0){`,
    to: `#ifndef _WIN32
        /* tokensync send patch: many requests per system call, each in one piece (not TLS, not during SASL) */
        if (!is_sasl_auth_in_progress(zh)
#ifdef HAVE_OPENSSL_H
            && !zh->fd->ssl_sock
#endif
        ) {
            rc = send_buffers_gathered(zh);
            if (rc == 0 && timeout == 0) {
                rc = ZOK;
                break;
            }
            if (rc < 0) {
                rc = ZCONNECTIONLOSS;
                break;
            }
            get_system_time(&zh->last_send);
            rc = ZOK;
            continue;
        }
#endif
        rc = send_buffer(zh, zh->to_send.head);
        if(rc==0 && timeout==0){`,
  },
  {
    file: 'src/node-zk.cpp',
    what: 'set_corked registered',
    from: `        Nan::SetPrototypeMethod(constructor_template,  "a_add_watch",  AAddWatch); // tokensync addwatch patch
`,
    to: `        Nan::SetPrototypeMethod(constructor_template,  "a_add_watch",  AAddWatch); // tokensync addwatch patch
        Nan::SetPrototypeMethod(constructor_template,  "set_corked",  SetCorked); // tokensync send patch
`,
  },
  {
    file: 'src/node-zk.cpp',
    what: 'set_corked(bool)',
    from: `    // tokensync addwatch patch: addWatch(path, mode, cb);`,
    to: `    // tokensync send patch: set_corked(true) queues requests, set_corked(false) sends them. When the flush closed
    // the socket or left data queued, the socket interest is read again (reconnect, POLLOUT).
    static void SetCorked(const Nan::FunctionCallbackInfo<Value>& info) {
        ZooKeeper *zk = ObjectWrap::Unwrap<ZooKeeper>(info.This());
        assert(zk);
        if (!zk->zhandle) {
            RETURN_VALUE(info, Nan::New<Int32>(ZINVALIDSTATE));
            return;
        }
        int state_before = zoo_state(zk->zhandle);
        int ret = zoo_set_corked(zk->zhandle, Nan::To<bool>(info[0]).FromJust() ? 1 : 0);
        if (zk->zhandle && (ret == 1 || zoo_state(zk->zhandle) != state_before)) zk->yield();
        RETURN_VALUE(info, Nan::New<Int32>(ret));
    }

    // tokensync addwatch patch: addWatch(path, mode, cb);`,
  },
];

// The poll patch. After every socket event the binding's yield() stopped its poll handle and started it again (two
// or three epoll_ctl() calls, one of them failing) and, with the fd patch, compared the C client's socket with its
// duplicate by two fstat() calls: about five system calls per reply or notification on top of the two recv()s.
// Now the poll is restarted only when the events it waits for change, and the sockets are compared only when the
// handle was not connected at the previous yield or is not now, or the C client's fd number changed (a new socket
// is always seen in a connecting state first: the C client connects without blocking). Each patch that rewrites
// the fd patch's text says so (`covers`), so that a rerun still recognises the fd patch as applied.
const POLL_PATCHES = [
  {
    file: 'src/node-zk.cpp',
    what: 'the poll handle keeps running across yields',
    covers: ['the poll handle watches a duplicate of the C client socket that only the binding closes'],
    from: `        int rc = zookeeper_interest(zhandle, &fd, &interest, &tv);

        if (zk_io && uv_is_active((uv_handle_t*) zk_io)) {
            uv_poll_stop(zk_io);
        }
`,
    to: `        int rc = zookeeper_interest(zhandle, &fd, &interest, &tv);

        // ${POLL_PATCH_ID}: the poll handle is not stopped here; it is restarted below only when its events change.
        // Connected at the previous yield and now, on the same fd number: the same socket (a new one is always
        // seen connecting first), so same_socket()'s two fstat() calls are skipped.
        int zstate = zoo_state(zhandle);
        bool steady = zk_io && fd == oldFd && zstate == ZOO_CONNECTED_STATE && last_zstate == ZOO_CONNECTED_STATE;
        last_zstate = zstate;
#ifdef WIN32
        if (zk_io && uv_is_active((uv_handle_t*) zk_io)) {
            uv_poll_stop(zk_io);
        }
#endif
`,
  },
  {
    file: 'src/node-zk.cpp',
    what: 'the sockets are compared only when the connection may have changed',
    covers: ['the poll handle watches a duplicate of the C client socket that only the binding closes'],
    from: `        if (zk_io && !same_socket(fd, io_fd)) {`,
    to: `        if (zk_io && !steady && !same_socket(fd, io_fd)) { // tokensync poll patch: see 'steady'`,
  },
  {
    file: 'src/node-zk.cpp',
    what: 'the poll is restarted only when its events change',
    from: `        LOG_DEBUG("yield: starting poll for %lp from thread %lp", this);
        uv_poll_start(zk_io, events, &zk_io_cb);
`,
    to: `        LOG_DEBUG("yield: starting poll for %lp from thread %lp", this);
        // tokensync poll patch: a running poll with the same events is left alone (libuv polls level-triggered)
        if (!uv_is_active((uv_handle_t*) zk_io) || zk_io_events != events) {
            uv_poll_start(zk_io, events, &zk_io_cb);
            zk_io_events = events;
        }
`,
  },
  {
    file: 'src/node-zk.cpp',
    what: 'last_zstate and zk_io_events members',
    from: `    uv_timer_t zk_timer;
`,
    to: `    uv_timer_t zk_timer;
    int last_zstate = 0;   // tokensync poll patch: zoo_state() at the previous yield
    int zk_io_events = -1; // tokensync poll patch: the events zk_io polls for
`,
  },
];

// The multi patch. ZooKeeper's multi (zoo_amulti in the C client, Curator's transaction()) applies many creates,
// deletes and version checks as ONE transaction: one proposal, one log append, one commit for all of them, where
// each create on its own costs the ensemble all three. The binding does not expose it; `a_multi(ops, cb)` does, for
// the three kinds tokensync needs. ops: [{type: 1, path, data: string | Buffer, flags, acl?}] (create; `acl` in
// a_set_acl's shape, else the open ACL as the binding's a_create: unlike a_create followed by a_set_acl, the node
// never exists unprotected), [{type: 2, path, version}] (delete), [{type: 13, path, version}] (check); cb(rc, error,
// errs): rc is the first op's failure (or ZOK), errs[i] each op's own code (ZOK, the failure, or
// ZRUNTIMEINCONSISTENCY for ops not tried once one failed). All or nothing: when rc is not ZOK, nothing was applied.
const MULTI_PATCHES = [
  {
    file: 'src/node-zk.cpp',
    what: 'a_multi registered',
    from: `        Nan::SetPrototypeMethod(constructor_template,  "a_sync",  ASync);
`,
    to: `        Nan::SetPrototypeMethod(constructor_template,  "a_sync",  ASync);
        Nan::SetPrototypeMethod(constructor_template,  "a_multi",  AMulti); // tokensync multi patch
`,
  },
  {
    file: 'src/node-zk.cpp',
    what: 'a_multi(ops, cb)',
    from: `    static void ASync(const Nan::FunctionCallbackInfo<Value>& info) {
`,
    to: `    // ${MULTI_PATCH_ID}: a_multi(ops, cb), one transaction (zoo_amulti); see scripts/patch-zookeeper-binding.mjs.
    // zoo_amulti() serializes the ops before it returns (their strings only need to live that long); the results
    // it fills in when the reply (or the connection loss) comes live in the completion's data.
    struct multi_data {
        Nan::Callback *cb;
        int count;
        zoo_op_result_t *results;
    };

    static void multi_completion (int rc, const void *data) {
        struct multi_data *d = (struct multi_data *) data;
        void *cb = (void *) d->cb;
        {
            CALLBACK_PROLOG(3);
            Local<Array> errs = Nan::New<Array>(d->count);
            for (int i = 0; i < d->count; i++) {
                Nan::Set(errs, i, Nan::New<Int32>(d->results[i].err));
            }
            argv[2] = errs;
            CALLBACK_EPILOG();
        }
        free(d->results);
        free(d);
    }

    static void AMulti(const Nan::FunctionCallbackInfo<Value>& info) {
        ZooKeeper *zk = ObjectWrap::Unwrap<ZooKeeper>(info.This());
        assert(zk);
        THROW_IF_NOT (info.Length() >= 2 && info[0]->IsArray() && info[1]->IsFunction(), "a_multi(ops, cb): ops must be an array");
        Local<Array> jsOps = Local<Array>::Cast(info[0]);
        int count = (int) jsOps->Length();
        THROW_IF_NOT (count > 0, "a_multi(ops, cb): no ops");
        std::vector<std::string> paths(count);
        std::vector<std::string> datas(count);
        std::vector<zoo_op_t> ops(count);
        std::vector<struct ACL_vector *> acls(count, (struct ACL_vector *) NULL);
        for (int i = 0; i < count; i++) {
            Local<Value> item = Nan::Get(jsOps, i).ToLocalChecked();
            THROW_IF_NOT (item->IsObject(), "a_multi(ops, cb): each op must be an object");
            Local<Object> op = toLocalObj(item);
            int type = toInt(Nan::Get(op, LOCAL_STRING("type")).ToLocalChecked());
            paths[i] = *Nan::Utf8String(toString(Nan::Get(op, LOCAL_STRING("path")).ToLocalChecked()));
            if (type == ZOO_CREATE_OP) {
                Local<Value> value = Nan::Get(op, LOCAL_STRING("data")).ToLocalChecked();
                if (Buffer::HasInstance(value)) {
                    Local<Object> buffer = toLocalObj(value);
                    datas[i].assign(BufferData(buffer), BufferLength(buffer));
                } else {
                    datas[i] = *Nan::Utf8String(toString(value));
                }
                int flags = toInt(Nan::Get(op, LOCAL_STRING("flags")).ToLocalChecked());
                Local<Value> acl = Nan::Get(op, LOCAL_STRING("acl")).ToLocalChecked();
                if (acl->IsArray() && Local<Array>::Cast(acl)->Length() > 0) acls[i] = zk->createAclVector(Local<Array>::Cast(acl));
                zoo_create_op_init(&ops[i], paths[i].c_str(), datas[i].data(), (int) datas[i].size(), acls[i] ? acls[i] : &ZOO_OPEN_ACL_UNSAFE, flags, NULL, 0);
            } else if (type == ZOO_DELETE_OP || type == ZOO_CHECK_OP) {
                int version = toInt(Nan::Get(op, LOCAL_STRING("version")).ToLocalChecked());
                if (type == ZOO_DELETE_OP) zoo_delete_op_init(&ops[i], paths[i].c_str(), version);
                else zoo_check_op_init(&ops[i], paths[i].c_str(), version);
            } else {
                for (int j = 0; j < i; j++) if (acls[j]) { deallocate_ACL_vector(acls[j]); free(acls[j]); }
                return Nan::ThrowError("a_multi(ops, cb): op type must be 1 (create), 2 (delete) or 13 (check)");
            }
        }
        // from here on, as A_METHOD_PROLOG: the callback belongs to the completion
        Nan::Callback *cb = new Nan::Callback(info[1].As<Function>());
        Nan::SetPrivate(cb->GetFunction(), Nan::New(PRIVATE_PROP_ZK), zk->handle());
        struct multi_data *data = (struct multi_data *) malloc(sizeof(struct multi_data));
        data->cb = cb;
        data->count = count;
        data->results = (zoo_op_result_t *) calloc(count, sizeof(zoo_op_result_t));

        METHOD_EPILOG(zoo_amulti(zk->zhandle, count, ops.data(), data->results, &multi_completion, data));
        // serialized by now: the ACLs are not needed any more
        for (int i = 0; i < count; i++) if (acls[i]) { deallocate_ACL_vector(acls[i]); free(acls[i]); }
    }

    static void ASync(const Nan::FunctionCallbackInfo<Value>& info) {
`,
  },
  {
    file: 'src/node-zk.cpp',
    what: 'headers for std::string and std::vector',
    from: `#include <zookeeper.h>
#include "nan.h"
`,
    to: `#include <zookeeper.h>
#include <string>  /* tokensync multi patch */
#include <vector>  /* tokensync multi patch */
#include "nan.h"
`,
  },
];

const GROUPS = [
  { id: PATCH_ID, patches: FD_PATCHES.map((patch) => ({ file: 'src/node-zk.cpp', ...patch })) },
  { id: WATCH_PATCH_ID, patches: WATCH_PATCHES },
  { id: RESOLVE_PATCH_ID, patches: RESOLVE_PATCHES },
  { id: SEND_PATCH_ID, patches: SEND_PATCHES },
  { id: POLL_PATCH_ID, patches: POLL_PATCHES },
  { id: MULTI_PATCH_ID, patches: MULTI_PATCHES },
];

const checkOnly = process.argv.includes('--check');
const log = (line) => console.log(`patch-zookeeper-binding: ${line}`);

function bindingDir() {
  const require = createRequire(join(process.cwd(), 'package.json'));
  try {
    return dirname(require.resolve('zookeeper/package.json'));
  } catch {
    return undefined;
  }
}

function nodeGyp() {
  // npm sets npm_config_node_gyp for lifecycle scripts; otherwise use the node-gyp that ships inside npm.
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ].filter(Boolean);
  return candidates.find((path) => existsSync(path));
}

const dir = bindingDir();
if (!dir) {
  log('the zookeeper package is not installed; nothing to patch');
  process.exit(0);
}
const version = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
const ALL_IDS = GROUPS.map((group) => group.id);

// Each patch is applied once, in order (a later patch may anchor on an earlier one's text, never change it): a file holding its new
// text has it, a file holding its old text exactly once gets it, anything else is a binding this script does not
// know (and is refused, never built half patched).
const texts = new Map();
const textOf = (file) => {
  if (!texts.has(file)) texts.set(file, readFileSync(join(dir, file), 'utf8'));
  return texts.get(file);
};
const missing = [];
for (const group of GROUPS) {
  for (const patch of group.patches) {
    const text = textOf(patch.file);
    if (text.includes(patch.to)) continue;
    // rewritten by a later patch that says so, and that one is in place
    const superseded = GROUPS.some((g) => g.patches.some((later) => later.covers?.includes(patch.what) && text.includes(later.to)));
    if (superseded) continue;
    if (text.split(patch.from).length !== 2) {
      console.error(
        `patch-zookeeper-binding: zookeeper ${version} at ${dir} does not have the code this patch expects ` +
          `(${patch.what}, in ${patch.file}); tokensync is tested with zookeeper 7.3.0. Refusing to build an unpatched ` +
          'binding silently: reinstall the binding (rm -rf node_modules/zookeeper && npm install), pin zookeeper to ' +
          '7.3.0, or update scripts/patch-zookeeper-binding.mjs.',
      );
      process.exit(1);
    }
    missing.push(patch);
    texts.set(patch.file, text.replace(patch.from, patch.to));
  }
}
const patched = missing.length === 0;
// The stamp is written after a successful rebuild from the patched sources; the .node file alone proves nothing.
const stampPath = join(dir, 'build', 'Release', 'tokensync-patched.stamp');
const stamp = existsSync(stampPath) ? readFileSync(stampPath, 'utf8') : '';
const built = existsSync(join(dir, 'build', 'Release', 'zookeeper.node')) && ALL_IDS.every((id) => stamp.includes(id));

if (checkOnly) {
  log(`zookeeper ${version} at ${dir}: ${patched ? 'patched' : 'NOT patched'}, ${built ? 'built' : 'NOT built'} (${ALL_IDS.join(', ')})`);
  process.exit(patched && built ? 0 : 1);
}

if (!patched) {
  for (const file of new Set(missing.map((patch) => patch.file))) writeFileSync(join(dir, file), texts.get(file));
  log(`patched ${dir}: ${missing.map((p) => p.what).join('; ')}`);
}

if (patched && built && !process.argv.includes('--rebuild')) {
  log(`zookeeper ${version} already patched and built`);
  process.exit(0);
}

const gyp = nodeGyp();
if (!gyp) {
  console.error('patch-zookeeper-binding: node-gyp not found (it ships with npm); cannot rebuild the binding');
  process.exit(1);
}
// A full rebuild (configure, the C client, the addon): about 8 s here. `build` alone is not enough when the
// binding's first build left absolute paths to objects that are gone.
const args = ['rebuild'];
// Outside npm (run by hand), build against the running Node's own headers when it has them, as npm is set to here
// (npm passes npm_config_nodedir to lifecycle scripts); otherwise node-gyp downloads them.
const prefix = join(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node.h'))) args.push(`--nodedir=${prefix}`);
const started = Date.now();
try {
  execFileSync(process.execPath, [gyp, ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
} catch (error) {
  process.stderr.write(String(error.stderr ?? ''));
  console.error(`patch-zookeeper-binding: node-gyp ${args[0]} failed in ${dir}`);
  process.exit(1);
}
writeFileSync(stampPath, `${ALL_IDS.join(', ')}: zookeeper ${version}, ${new Date().toISOString()}\n`);
log(`rebuilt the binding (node-gyp ${args[0]}, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
