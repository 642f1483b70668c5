# -*- coding: utf-8 -*-
"""
twisted_driver: a test peer for flapjack's OSCAR server built on Twisted 16.6's
twisted.words.protocols.oscar (Python 2.7).

    twisted-driver --user NAME --password PW --server HOST --port PORT \
                   [--mode aim|icq] [--timeout SECONDS]

  --mode aim : OscarAuthenticator BUCP login (0x0017 MD5 challenge; "strong"
               hash MD5(key + MD5(pw) + "AOL Instant Messenger (SM)"), TLV 0x4C)
  --mode icq : OscarAuthenticator(icq=1): FLAP channel-1 login with the
               XOR-roasted password; the reply is read from the channel-4 frame

stdin : commands, one per line, TAB-separated fields
          im<TAB>TO<TAB>TEXT   away<TAB>MESSAGE   back   feedbag[<TAB>cached]
          info<TAB>SN          awaymsg<TAB>SN     ping[<TAB>TOKEN]   quit
stdout: one JSON object per line, always with an "event" key
stderr: diagnostics; Twisted's own log only when TWISTED_DEBUG=1

See interop/README.md for the event list.
"""
from __future__ import print_function

import json
import optparse
import os
import struct
import sys
import threading

from twisted.internet import defer, protocol, reactor
from twisted.python import failure, log
from twisted.words.protocols import oscar

STATE = {
    'bos': None,            # BOSConnection once connected
    'signed_on': False,
    'quitting': False,
    'exit_code': 0,
    'feedbag': None,        # the feedbag received at sign-on
    'opts': None,
}

# ---------------------------------------------------------------------------
# output


def _text(v):
    """Make any value JSON-friendly text (bytes are decoded leniently)."""
    if v is None:
        return None
    if isinstance(v, unicode):
        return v
    if isinstance(v, str):
        try:
            return v.decode('utf-8')
        except UnicodeDecodeError:
            return v.decode('latin-1')
    return unicode(v)


def _clean(v):
    if isinstance(v, (str, unicode)):
        return _text(v)
    if isinstance(v, dict):
        return dict((_text(k), _clean(x)) for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def emit(event, **fields):
    obj = {'event': event}
    obj.update(fields)
    line = json.dumps(_clean(obj), ensure_ascii=True, sort_keys=True,
                      separators=(',', ':'), default=_text)
    try:
        sys.stdout.write(line + '\n')
        sys.stdout.flush()
    except IOError:
        os._exit(3)


def errmsg(text):
    sys.stderr.write('twisted-driver: %s\n' % text)
    sys.stderr.flush()


def describe_failure(f):
    if isinstance(f, failure.Failure):
        v = f.value
        if isinstance(v, tuple):   # OscarAuthenticator.error: (error, url)
            return ', '.join(_text(x) or '' for x in v)
        if isinstance(v, list):    # SNAC error reply (readSNAC result)
            return 'SNAC error %r' % (v[:2],)
        return f.getErrorMessage()
    return _text(repr(f))


def shutdown(code):
    if STATE['quitting']:
        return
    STATE['quitting'] = True
    STATE['exit_code'] = code
    bos = STATE['bos']
    if bos is not None and bos.transport is not None:
        try:
            bos.disconnect()   # FLAP channel 4 + close
        except Exception as e:  # pragma: no cover - best effort
            errmsg('disconnect failed: %s' % e)
        emit('signed_off', reason='quit')
    emit('exiting')
    reactor.callLater(0.2, reactor.stop)


# ---------------------------------------------------------------------------
# message decoding


def decode_parts(multiparts):
    out = []
    for part in multiparts:
        data = part[0]
        flags = part[1:]
        if 'unicode' in flags:       # charset 2: UCS-2BE
            try:
                out.append(data.decode('utf-16-be'))
                continue
            except UnicodeDecodeError:
                pass
        if 'iso-8859-1' in flags:    # charset 3
            out.append(data.decode('latin-1'))
            continue
        try:
            out.append(data.decode('utf-8'))
        except UnicodeDecodeError:
            out.append(data.decode('latin-1'))
    return u''.join(out)


def user_fields(user):
    return dict(
        name=user.name,
        online=True,
        away='away' in user.flags,
        idle=getattr(user, 'idleTime', 0) or 0,
        flags=[f for f in user.flags],
        warning=user.warning,
        icq_status=getattr(user, 'icqStatus', None),
    )


def feedbag_event(result, source):
    groups, permit, deny, permit_mode, visibility, timestamp, revision = result
    emit('feedbag',
         source=source,
         groups=[{'name': g.name, 'buddies': [b.name for b in g.users]}
                 for g in groups],
         permit=list(permit), deny=list(deny), permit_mode=permit_mode,
         visibility=visibility, timestamp=timestamp, revision=revision)


# ---------------------------------------------------------------------------
# BOS connection


class DriverBOS(oscar.BOSConnection):
    capabilities = [oscar.CAP_CHAT]

    def connectionMade(self):
        oscar.BOSConnection.connectionMade(self)
        STATE['bos'] = self
        emit('bos_connected')

    def connectionLost(self, reason):
        oscar.BOSConnection.connectionLost(self, reason)
        STATE['bos'] = None
        if not STATE['quitting']:
            emit('signed_off', reason=_text(reason.getErrorMessage()),
                 was_signed_on=STATE['signed_on'])
            if STATE['opts'].exit_on_disconnect:
                shutdown(1)

    def oscar_Data(self, data):
        # Twisted treats every frame as a SNAC; surface a server signoff
        # (FLAP channel 4, e.g. "signed on elsewhere") instead of crashing.
        if data[0] == 0x04:
            tlvs = oscar.readTLVs(data[1]) if data[1] else {}
            code = None
            if 0x09 in tlvs and len(tlvs[0x09]) >= 2:
                code = struct.unpack('!H', tlvs[0x09][:2])[0]
            elif 0x09 in tlvs and len(tlvs[0x09]) == 1:
                code = ord(tlvs[0x09])
            emit('error', reason='server_signoff', code=code,
                 description='server closed the session (FLAP channel 4)',
                 url=_text(tlvs.get(0x0b)))
            self.transport.loseConnection()
            return 'Data'
        if data[0] == 0x05:      # keepalive
            return 'Data'
        return oscar.BOSConnection.oscar_Data(self, data)

    # -- sign-on sequence (after the rate parameters arrive) --
    def initDone(self):
        self.requestSelfInfo().addCallbacks(self._gotSelfInfo, self._selfInfoFailed)
        self.requestSSI().addCallbacks(self._gotFeedbag, self._feedbagFailed)

    def _gotSelfInfo(self, user):
        self.selfName = user.name
        emit('self_info', name=user.name, flags=list(user.flags))

    def _selfInfoFailed(self, f):
        emit('error', reason='self_info', description=describe_failure(f))

    def _gotFeedbag(self, result):
        if result is None:
            emit('error', reason='feedbag',
                 description='server answered 0x13/0x0F (feedbag unchanged) to an initial query')
            result = ([], [], [], None, None, 0, 0)
        STATE['feedbag'] = result
        self.activateSSI()
        self.setProfile(None)
        self.setIdleTime(0)
        self.clientReady()
        STATE['signed_on'] = True
        emit('signed_on', user=STATE['opts'].user,
             groups=len(result[0]), timestamp=result[5])

    def _feedbagFailed(self, f):
        emit('error', reason='feedbag', description=describe_failure(f))

    # -- incoming --
    def updateBuddy(self, user):
        emit('buddy', **user_fields(user))

    def offlineBuddy(self, user):
        fields = user_fields(user)
        fields.update(online=False, away=False)
        emit('buddy', **fields)

    def receiveMessage(self, user, multiparts, flags):
        emit('im', **{'from': user.name, 'text': decode_parts(multiparts),
                      'auto_response': 'auto' in flags,
                      'flags': [f for f in flags if isinstance(f, str)]})

    def receiveWarning(self, newLevel, user):
        emit('warned', level=newLevel, by=user.name if user else None)

    def receiveChatInvite(self, user, message, exchange, fullName, instance,
                          shortName, inviteTime):
        emit('chat_invite', room=shortName, **{'from': user.name,
                                               'message': message})


class DriverAuthenticator(oscar.OscarAuthenticator):
    BOSClass = DriverBOS

    def connectionMade(self):
        oscar.OscarAuthenticator.connectionMade(self)
        emit('auth_connected', mode='icq' if self.icq else 'aim')

    def connectionLost(self, reason):
        oscar.OscarAuthenticator.connectionLost(self, reason)
        if STATE['bos'] is None and not STATE['signed_on'] and not STATE['quitting'] \
                and not getattr(self, '_reported', False):
            # closed before we got a cookie (and before error() fired)
            emit('error', reason='auth_connection_lost',
                 description=_text(reason.getErrorMessage()))

    def error(self, error, url):
        self._reported = True
        oscar.OscarAuthenticator.error(self, error, url)


# ---------------------------------------------------------------------------
# commands


def not_connected(cmd):
    bos = STATE['bos']
    if bos is None or not STATE['signed_on']:
        emit('command_error', command=cmd, reason='not signed on')
        return True
    return False


def encode_outgoing(text):
    """Twisted sends str as charset 0 (ASCII).  For non-ASCII text we pass a
    unicode object: Twisted then marks the part charset 2 but (its own quirk)
    encodes it as UTF-8."""
    try:
        return text.encode('ascii')
    except UnicodeEncodeError:
        return text


def handle_command(line):
    line = line.rstrip('\r\n')
    if not line:
        return
    try:
        uline = line.decode('utf-8')
    except UnicodeDecodeError:
        uline = line.decode('latin-1')
    f = uline.split(u'\t')
    cmd = f[0]
    bos = STATE['bos']

    def need(n):
        if len(f) < n + 1:
            emit('command_error', command=cmd, reason='missing arguments')
            return False
        return True

    if cmd == 'quit':
        shutdown(0)
    elif cmd == 'ping':
        emit('pong', token=f[1] if len(f) > 1 else None)
    elif cmd == 'im':
        if need(2) and not not_connected(cmd):
            bos.sendMessage(f[1].encode('utf-8'), encode_outgoing(f[2]))
            emit('im_sent', to=f[1], text=f[2])
    elif cmd == 'away':
        if not not_connected(cmd):
            msg = f[1] if len(f) > 1 else u''
            bos.setAway(msg.encode('utf-8'))
    elif cmd == 'back':
        if not not_connected(cmd):
            bos.setAway(None)
    elif cmd == 'feedbag':
        if not_connected(cmd):
            return
        if len(f) > 1 and f[1] == 'cached':
            feedbag_event(STATE['feedbag'], 'signon')
        else:
            bos.requestSSI().addCallbacks(
                lambda r: feedbag_event(r, 'query') if r is not None
                else emit('feedbag', source='query', unchanged=True, groups=None),
                lambda e: emit('error', reason='feedbag', description=describe_failure(e)))
    elif cmd == 'info':
        if need(1) and not not_connected(cmd):
            bos.getInfo(f[1].encode('utf-8')).addCallbacks(
                lambda text, sn=f[1]: emit('user_info', name=sn, text=_text(text)),
                lambda e: emit('error', reason='info', description=describe_failure(e)))
    elif cmd == 'awaymsg':
        if need(1) and not not_connected(cmd):
            bos.getAway(f[1].encode('utf-8')).addCallbacks(
                lambda text, sn=f[1]: emit('away_message', name=sn, text=_text(text)),
                lambda e: emit('error', reason='awaymsg', description=describe_failure(e)))
    else:
        emit('command_error', command=cmd, reason='unknown command')


def safe_handle(line):
    try:
        handle_command(line)
    except Exception as e:
        emit('command_error', command=line.split('\t')[0], reason=_text(repr(e)))


def stdin_reader():
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        reactor.callFromThread(safe_handle, line)
    reactor.callFromThread(_stdin_closed)


def _stdin_closed():
    if not STATE['quitting']:
        emit('log', text='stdin closed; signing off')
        shutdown(0)


# ---------------------------------------------------------------------------
# main


def on_timeout():
    emit('fatal', reason='timeout', seconds=STATE['opts'].timeout)
    errmsg('timeout after %s seconds, exiting' % STATE['opts'].timeout)
    STATE['quitting'] = True
    STATE['exit_code'] = 2
    reactor.stop()


def log_observer(event):
    if event.get('isError'):
        text = log.textFromEventDict(event)
        if text:
            errmsg(text)
            emit('log', text=_text(text))


def main(argv):
    p = optparse.OptionParser(usage='%prog --user NAME --password PW [options]')
    p.add_option('--user')
    p.add_option('--password')
    p.add_option('--server', default='127.0.0.1')
    p.add_option('--port', type='int', default=5190)
    p.add_option('--mode', choices=['aim', 'icq'], default='aim')
    p.add_option('--timeout', type='float', default=120.0)
    p.add_option('--exit-on-disconnect', action='store_true', default=False,
                 help='exit(1) after an error/signoff instead of waiting for quit')
    p.add_option('--probe', action='store_true', default=False,
                 help='import the oscar module, print the ready event, exit')
    opts, args = p.parse_args(argv)
    STATE['opts'] = opts

    import twisted
    ready = dict(twisted=twisted.__version__, python=sys.version.split()[0],
                 oscar=oscar.__name__)
    if opts.probe:
        emit('ready', **ready)
        return 0
    if args or not opts.user or opts.password is None:
        p.print_usage(sys.stderr)
        return 64

    if os.environ.get('TWISTED_DEBUG', '') not in ('', '0'):
        log.startLogging(sys.stderr, setStdout=False)
    else:
        log.addObserver(log_observer)

    emit('ready', **ready)
    emit('connecting', server=opts.server, port=opts.port, mode=opts.mode)

    d = defer.Deferred()

    def bos_failed(f):
        v = f.value if isinstance(f, failure.Failure) else None
        if isinstance(v, tuple) and len(v) == 2:
            # OscarAuthenticator.error(error, url): login refused
            emit('error', reason='auth', description=_text(v[0]), url=_text(v[1]))
        else:
            emit('error', reason='auth', description=describe_failure(f))
        if opts.exit_on_disconnect:
            shutdown(1)

    d.addErrback(bos_failed)

    cc = protocol.ClientCreator(reactor, DriverAuthenticator, opts.user,
                                opts.password, deferred=d,
                                icq=1 if opts.mode == 'icq' else 0)

    def connect_failed(f):
        emit('error', reason='connection_failed', description=describe_failure(f))
        if opts.exit_on_disconnect:
            shutdown(1)

    cc.connectTCP(opts.server, opts.port, timeout=30).addErrback(connect_failed)

    t = threading.Thread(target=stdin_reader, name='stdin')
    t.daemon = True
    t.start()
    reactor.callLater(opts.timeout, on_timeout)
    reactor.run(installSignalHandlers=True)
    return STATE['exit_code']


if __name__ == '__main__':
    code = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(code)
