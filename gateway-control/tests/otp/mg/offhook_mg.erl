%% A small analog-line media gateway (MG) written against Erlang/OTP's megaco application, for
%% Offhook's end-to-end tests of its MEGACO controller (MGC) against a stack nobody here wrote.
%%
%% Run (mg.escript beside this file compiles it and calls main/1):
%%
%%   escript gateway-control/tests/otp/mg/mg.escript --mgc 127.0.0.1:2944 \
%%       [--transport udp|tcp] [--encoding pretty|compact|ber] [--lines 2] \
%%       [--line-ids aaln/1,aaln/2] [--ip 127.0.0.1] [--port 0] [--mid '[127.0.0.1]:2945'] \
%%       [--no-sc-address]
%%
%% Defaults: udp, pretty, 2 lines named aaln/1 and aaln/2 (with ber, OTP's binary term ids
%% 00000000/00000000/0000000N, as OTP's megaco_ber_encoder cannot carry aaln/N), a free port
%% on --ip, and the mId [ip]:port. It registers with a ServiceChange Restart on ROOT
%% (Reason "901 Cold Boot", Profile ResGW/1, ServiceChangeAddress = its port over UDP unless
%% --no-sc-address: OTP's example megaco_simple_mgc echoes the address and adds MgcIdToTry,
%% a reply OTP's own decoder refuses, as the ABNF allows only one of the two),
%% retrying every second until the MGC accepts; answers AuditValue of ROOT and of its lines
%% (Error 430 for others); takes Modify of a line (Events, Signals, DigitMap) and of an RTP
%% termination (its mode); answers Add of a line and of $ into a new context (context $),
%% giving the RTP termination rtp/N (with ber 00000001/00000000/N in 8 binary digits) a Local
%% SDP of its own: a UDP port on --ip that counts what arrives, and speaks and hears for the
%% line in its context (below); and Subtract (of a termination or *), deleting the context
%% once empty, with statistics rtp/ps and rtp/pr.
%%
%% Commands on stdin, one a line; end of input is quit:
%%   offhook N | onhook N | flash N   Notify al/of, al/on or al/fl on line N (1-based)
%%   digits N 123#                    Notify dd/ce {ds="123#", Meth=FM}
%%   say N FILE                       line N says FILE (WAV of 8 kHz mono 16-bit PCM, or raw
%%                                    G.711 .ulaw or .alaw) on its RTP termination: G.711 RTP
%%                                    (PCMU, or PCMA when the SDP's payload type is 8), 160
%%                                    samples every 20 ms in real time, to the Remote SDP
%%                                    address; a packet is sent only while the mode is
%%                                    SendOnly or SendReceive (else it is skipped, as muted)
%%   hear N on | hear N FILE          line N keeps the G.711 payload its RTP terminations
%%                                    receive (60 s at most); on `hear N off` or on their
%%                                    Subtract it prints "heard" and, given FILE, writes what
%%                                    it heard there as a WAV of 8 kHz 16-bit PCM
%%   hear N off
%%   autoanswer N on|off              line N goes off-hook 200 ms after it is rung (al/ri)
%%   quit
%% A Notify is sent only for an event the line's last Events descriptor armed, with its
%% RequestID, in the context the line is in.
%%
%% Output: one JSON object a line on stdout (log messages go to stderr), for example
%%   {"event":"registered","mid":"[127.0.0.1]:40123","transport":"udp","encoding":"pretty"}
%%   {"event":"register_failed","reason":"..."}
%%   {"event":"audit","termination":"aaln/1","found":true}
%%   {"event":"modify","termination":"aaln/1","line":1,"context":0,"request_id":1,
%%    "events":["al/of"],"signals":[]}            (events/signals/digit_map only when present)
%%   {"event":"modify","termination":"rtp/1","context":1,"mode":"ReceiveOnly"}
%%   {"event":"add","termination":"aaln/1","line":1,"context":1,"request_id":2,
%%    "events":["al/on","al/fl"]}
%%   {"event":"add","termination":"rtp/1","context":1,"local":"127.0.0.1:40124",
%%    "remote":"127.0.0.1:16384","mode":"SendReceive"}
%%   {"event":"subtract","termination":"rtp/1","context":1,"rtp_received":0,"rtp_sent":570,
%%    "context_deleted":false}
%%   {"event":"say_done","line":1,"packets":570}        (packets sent; also when cut short)
%%   {"event":"heard","line":2,"packets":570,"bytes":91200,"ms":11400,
%%    "file":"/tmp/heard.wav"}                          (ms: what was kept; file if given)
%%   {"event":"subtract","termination":"aaln/1","line":1,"context":1,"context_deleted":true}
%%   {"event":"notify","termination":"aaln/1","line":1,"name":"al/of","request_id":1,
%%    "context":0}
%%   {"event":"notify_reply","termination":"aaln/1","name":"al/of","ok":true}
%%   {"event":"not_armed","line":1,"name":"al/of"}
%%   {"event":"error","command":"...","reason":"..."}
%%   {"event":"error","command":"decode","reason":"...","bytes":"4D45..."}  (a message OTP's
%%    decoder refused, in hex; megaco's "syntax" error follows)
%%   {"event":"disconnected"}   (TCP; the MG then exits with status 1)
%%   {"event":"quit"}
%% Contexts are numbered from 1, RTP terminations too. Termination ids are printed as OTP
%% decodes them (lower case).

-module(offhook_mg).

-behaviour(megaco_user).

-export([main/1]).
%% megaco_encoder, around OTP's own (see "Encoding" below).
-export([
    version_of/2,
    encode_message/2,
    encode_message/3,
    encode_transaction/3,
    encode_action_requests/3,
    encode_action_request/3,
    encode_action_reply/3,
    decode_message/2,
    decode_message/3,
    decode_mini_message/3
]).
-export([
    handle_connect/2,
    handle_disconnect/3,
    handle_syntax_error/3,
    handle_message_error/3,
    handle_trans_request/3,
    handle_trans_long_request/3,
    handle_trans_reply/4,
    handle_trans_ack/4,
    handle_unexpected_trans/3,
    handle_trans_request_abort/4
]).

-include_lib("megaco/include/megaco.hrl").
-include_lib("megaco/include/megaco_message_v1.hrl").

-define(TABLE, offhook_mg).
%% The most G.711 payload a line keeps while it hears: 60 s at 8 kHz.
-define(HEAR_LIMIT, 480000).
%% The largest file `say` reads: 5 minutes of 8 kHz 16-bit PCM.
-define(SAY_LIMIT, 4800100).

%%----------------------------------------------------------------------
%% Start, registration and the stdin loop
%%----------------------------------------------------------------------

main(Args) ->
    Opts = parse_args(Args, #{transport => udp, encoding => pretty, lines => 2,
                              ip => {127, 0, 0, 1}, port => 0}),
    case maps:is_key(mgc, Opts) of
        true -> ok;
        false -> usage("--mgc HOST:PORT is required")
    end,
    %% Logs (megaco's and the VM's) to stderr: stdout carries only our JSON lines.
    _ = logger:remove_handler(default),
    ok = logger:add_handler(default, logger_std_h, #{config => #{type => standard_error}}),
    {ok, _} = application:ensure_all_started(megaco),
    ?TABLE = ets:new(?TABLE, [named_table, public, set]),
    Encoding = maps:get(encoding, Opts),
    Lines = line_ids(Opts),
    lists:foreach(
      fun({N, Id}) -> ets:insert(?TABLE, {{line, Id}, #{index => N, context => 0}}) end,
      lists:zip(lists:seq(1, length(Lines)), Lines)),
    ets:insert(?TABLE, [{lines, Lines}, {encoding, Encoding}, {next_context, 1}, {next_rtp, 1},
                        {ip, maps:get(ip, Opts)}]),
    Port = local_port(Opts),
    Mid = mid(Opts, Port),
    UserConfig = [{user_mod, ?MODULE}, {user_args, []},
                  {send_mod, send_mod(maps:get(transport, Opts))},
                  {encoding_mod, ?MODULE},
                  {encoding_config, [{?MODULE, encoding_mod(Encoding)}]}],
    ok = megaco:start_user(Mid, UserConfig),
    RecHandle = megaco:user_info(Mid, receive_handle),
    Conn = connect(maps:get(transport, Opts), maps:get(ip, Opts), Port, maps:get(mgc, Opts),
                   RecHandle),
    ets:insert(?TABLE, {mid, Mid}),
    spawn_link(fun() -> registration(Conn, Port, Opts, mid_text(Mid)) end),
    stdin_loop().

usage(Why) ->
    io:format(standard_error,
              "~s~nusage: mg.escript --mgc HOST:PORT [--transport udp|tcp] "
              "[--encoding pretty|compact|ber] [--lines N] [--line-ids ID,ID…] [--ip IP] "
              "[--port PORT] [--mid MID] [--no-sc-address]~n", [Why]),
    halt(2).

parse_args([], Opts) ->
    Opts;
parse_args(["--mgc", HostPort | Rest], Opts) ->
    parse_args(Rest, Opts#{mgc => host_port(HostPort)});
parse_args(["--transport", T | Rest], Opts) when T =:= "udp"; T =:= "tcp" ->
    parse_args(Rest, Opts#{transport => list_to_atom(T)});
parse_args(["--encoding", E | Rest], Opts)
  when E =:= "pretty"; E =:= "compact"; E =:= "ber" ->
    parse_args(Rest, Opts#{encoding => list_to_atom(E)});
parse_args(["--lines", N | Rest], Opts) ->
    parse_args(Rest, Opts#{lines => list_to_integer(N)});
parse_args(["--line-ids", Ids | Rest], Opts) ->
    parse_args(Rest, Opts#{line_ids => string:lexemes(Ids, ",")});
parse_args(["--ip", Ip | Rest], Opts) ->
    {ok, Addr} = inet:parse_ipv4_address(Ip),
    parse_args(Rest, Opts#{ip => Addr});
parse_args(["--port", P | Rest], Opts) ->
    parse_args(Rest, Opts#{port => list_to_integer(P)});
parse_args(["--no-sc-address" | Rest], Opts) ->
    parse_args(Rest, Opts#{sc_address => false});
parse_args(["--mid", M | Rest], Opts) ->
    parse_args(Rest, Opts#{mid => M});
parse_args([Other | _], _) ->
    usage("unknown argument " ++ Other).

host_port(Text) ->
    [Host, Port] = string:split(Text, ":", trailing),
    {ok, Addr} = inet:getaddr(string:trim(Host, both, "[]"), inet),
    {Addr, list_to_integer(Port)}.

line_ids(#{line_ids := Ids}) ->
    [string:lowercase(Id) || Id <- Ids];
line_ids(#{lines := N, encoding := ber}) ->
    [binary_id(0, 0, I) || I <- lists:seq(1, N)];
line_ids(#{lines := N}) ->
    ["aaln/" ++ integer_to_list(I) || I <- lists:seq(1, N)].

%% A termination id in OTP's default binary form: three levels of eight binary digits.
binary_id(A, B, C) ->
    lists:flatten(io_lib:format("~8.2.0B/~8.2.0B/~8.2.0B", [A, B, C])).

%% The port to use: --port, or a free one on --ip (the mId names it, so it is chosen first).
local_port(#{port := 0, ip := Ip}) ->
    {ok, S} = gen_udp:open(0, [{ip, Ip}]),
    {ok, Port} = inet:port(S),
    ok = gen_udp:close(S),
    Port;
local_port(#{port := Port}) ->
    Port.

mid(#{mid := "[" ++ _ = Text}, _) ->
    [Addr, Port] = string:split(string:trim(Text, leading, "["), "]:"),
    {ok, Ip} = inet:parse_ipv4_address(Addr),
    {ip4Address, #'IP4Address'{address = tuple_to_list(Ip),
                               portNumber = list_to_integer(Port)}};
mid(#{mid := "<" ++ _ = Text}, _) ->
    [Name, Port] = string:split(string:trim(Text, leading, "<"), ">:"),
    {domainName, #'DomainName'{name = Name, portNumber = list_to_integer(Port)}};
mid(#{mid := Text}, _) ->
    {deviceName, Text};
mid(#{ip := Ip}, Port) ->
    {ip4Address, #'IP4Address'{address = tuple_to_list(Ip), portNumber = Port}}.

mid_text({ip4Address, #'IP4Address'{address = [A, B, C, D], portNumber = P}}) ->
    lists:flatten(io_lib:format("[~b.~b.~b.~b]:~b", [A, B, C, D, P]));
mid_text({domainName, #'DomainName'{name = N, portNumber = P}}) ->
    lists:flatten(io_lib:format("<~s>:~b", [N, P]));
mid_text({deviceName, N}) ->
    N.

send_mod(udp) -> megaco_udp;
send_mod(tcp) -> megaco_tcp.

encoding_mod(pretty) -> megaco_pretty_text_encoder;
encoding_mod(compact) -> megaco_compact_text_encoder;
encoding_mod(ber) -> megaco_ber_encoder.

connect(udp, Ip, Port, {MgcIp, MgcPort}, RecHandle) ->
    {ok, Sup} = megaco_udp:start_transport(),
    {ok, Socket, Control} =
        megaco_udp:open(Sup, [{port, Port}, {receive_handle, RecHandle},
                              {udp_options, [{ip, Ip}]}]),
    Send = megaco_udp:create_send_handle(Socket, MgcIp, MgcPort),
    {ok, Conn} = megaco:connect(RecHandle, preliminary_mid, Send, Control),
    Conn;
connect(tcp, _Ip, _Port, {MgcIp, MgcPort}, RecHandle) ->
    {ok, Sup} = megaco_tcp:start_transport(),
    case megaco_tcp:connect(Sup, [{host, MgcIp}, {port, MgcPort},
                                  {receive_handle, RecHandle}]) of
        {ok, Send, Control} ->
            {ok, Conn} = megaco:connect(RecHandle, preliminary_mid, Send, Control),
            Conn;
        {error, Reason} ->
            print([{event, "connect_failed"}, {reason, fmt(Reason)}]),
            halt(1)
    end.

%% ServiceChange Restart on ROOT until the MGC accepts it.
registration(Conn, Port, Opts, MidText) ->
    Address = case {maps:get(transport, Opts), maps:get(sc_address, Opts, true)} of
                  {udp, true} -> {portNumber, Port};
                  _ -> asn1_NOVALUE
              end,
    Parm = #'ServiceChangeParm'{serviceChangeMethod = restart,
                                serviceChangeAddress = Address,
                                serviceChangeReason = ["901 Cold Boot"],
                                serviceChangeProfile =
                                    #'ServiceChangeProfile'{profileName = "ResGW",
                                                            version = 1}},
    Req = #'ServiceChangeRequest'{terminationID = [?megaco_root_termination_id],
                                  serviceChangeParms = Parm},
    AR = #'ActionRequest'{contextId = ?megaco_null_context_id,
                          commandRequests = [#'CommandRequest'{
                                                command = {serviceChangeReq, Req}}]},
    case megaco:call(Conn, [AR], []) of
        {_Version, {ok, [#'ActionReply'{commandReply = [{serviceChangeReply, Reply}]}]}} ->
            case Reply#'ServiceChangeReply'.serviceChangeResult of
                {errorDescriptor, ED} ->
                    print([{event, "register_failed"}, {reason, fmt(ED)}]),
                    retry(Conn, Port, Opts, MidText);
                _ ->
                    print([{event, "registered"}, {mid, MidText},
                           {transport, atom_to_list(maps:get(transport, Opts))},
                           {encoding, atom_to_list(maps:get(encoding, Opts))}])
            end;
        Other ->
            print([{event, "register_failed"}, {reason, fmt(Other)}]),
            retry(Conn, Port, Opts, MidText)
    end.

retry(_Conn, Port, Opts, MidText) ->
    timer:sleep(1000),
    registration(connection(), Port, Opts, MidText).

%% The connection to the MGC: megaco re-keys it by the MGC's mId once the MGC has answered.
connection() ->
    Mid = ets:lookup_element(?TABLE, mid, 2),
    hd(megaco:user_info(Mid, connections)).

stdin_loop() ->
    case io:get_line(standard_io, "") of
        eof -> quit();
        {error, _} -> quit();
        Line ->
            case string:lexemes(string:trim(Line), " \t") of
                ["offhook", N] -> notify(N, "al/of", []);
                ["onhook", N] -> notify(N, "al/on", []);
                ["flash", N] -> notify(N, "al/fl", []);
                ["digits", N, Digits] ->
                    notify(N, "dd/ce",
                           [#'EventParameter'{eventParameterName = "ds", value = [Digits]},
                            #'EventParameter'{eventParameterName = "Meth", value = ["FM"]}]);
                ["say", N, File] -> say(N, File);
                ["hear", N, "off"] -> hear_off(N);
                ["hear", N, "on"] -> hear_on(N, memory);
                ["hear", N, File] -> hear_on(N, File);
                ["autoanswer", N, "on"] -> autoanswer(N, true);
                ["autoanswer", N, "off"] -> autoanswer(N, false);
                ["quit"] -> quit();
                [] -> ok;
                Other -> print([{event, "error"}, {command, string:join(Other, " ")},
                                {reason, "unknown command"}])
            end,
            stdin_loop()
    end.

quit() ->
    print([{event, "quit"}]),
    halt(0).

%% Line N (text, 1-based), or error after saying so.
line_index(Command, NText) ->
    Lines = ets:lookup_element(?TABLE, lines, 2),
    case string:to_integer(NText) of
        {N, []} when N >= 1, N =< length(Lines) ->
            N;
        _ ->
            print([{event, "error"}, {command, Command}, {reason, "no such line"}]),
            error
    end.

%% The process of line N's RTP termination (the newest), or none.
rtp_of_line(N) ->
    Owners = [{Id, Sink} || {{rtp, Id}, #{line := L, sink := Sink}}
                                <- ets:match_object(?TABLE, {{rtp, '_'}, '_'}), L =:= N],
    case lists:reverse(lists:sort(Owners)) of
        [{_, Sink} | _] -> Sink;
        [] -> none
    end.

say(NText, File) ->
    case line_index("say", NText) of
        error ->
            ok;
        N ->
            case {rtp_of_line(N), read_audio(File)} of
                {none, _} ->
                    print([{event, "error"}, {command, "say"}, {line, N},
                           {reason, "no RTP termination"}]);
                {_, {error, Why}} ->
                    print([{event, "error"}, {command, "say"}, {line, N},
                           {reason, File ++ ": " ++ Why}]);
                {Sink, {ok, Pcm}} ->
                    Sink ! {say, Pcm}
            end
    end.

%% From now on line N keeps what its RTP terminations receive, until `hear N off` or their
%% Subtract; Where is memory or the WAV file to write then.
hear_on(NText, Where) ->
    case line_index("hear", NText) of
        error -> ok;
        N -> ets:insert(?TABLE, {{hear, N}, Where})
    end.

hear_off(NText) ->
    case line_index("hear", NText) of
        error ->
            ok;
        N ->
            case {ets:take(?TABLE, {hear, N}), rtp_of_line(N)} of
                {[], _} ->
                    print([{event, "error"}, {command, "hear"}, {line, N},
                           {reason, "not hearing"}]);
                {[{_, Where}], none} ->
                    heard(Where, #{line => N, heard => no_heard()});
                {[{_, Where}], Sink} ->
                    Sink ! {hear_off, Where}
            end
    end.

%% With autoanswer on, line N goes off-hook shortly after it is rung (al/ri).
autoanswer(NText, On) ->
    case line_index("autoanswer", NText) of
        error -> ok;
        N -> ets:insert(?TABLE, {{autoanswer, N}, On})
    end.

maybe_autoanswer(N, Line) ->
    Rung = lists:any(fun(S) -> string:lowercase(S) =:= "al/ri" end, maps:get(signals, Line, [])),
    case Rung andalso ets:lookup(?TABLE, {autoanswer, N}) =:= [{{autoanswer, N}, true}] of
        true ->
            spawn(fun() ->
                          timer:sleep(200),
                          notify(integer_to_list(N), "al/of", [])
                  end);
        false ->
            ok
    end.

%% Notify Name on line N, if its Events descriptor armed it.
notify(NText, Name, Params) ->
    Lines = ets:lookup_element(?TABLE, lines, 2),
    N = list_to_integer(NText),
    case N >= 1 andalso N =< length(Lines) of
        false ->
            print([{event, "error"}, {command, Name}, {reason, "no such line"}]);
        true ->
            Id = lists:nth(N, Lines),
            Line = line(Id),
            Armed = [E || E <- maps:get(events, Line, []), same_event(E, Name)],
            case {Armed, maps:get(request_id, Line, undefined)} of
                {[_ | _], RequestId} when is_integer(RequestId) ->
                    send_notify(Id, N, Name, Params, RequestId, maps:get(context, Line));
                _ ->
                    print([{event, "not_armed"}, {line, N}, {name, Name}])
            end
    end.

same_event(Armed, Name) ->
    string:lowercase(Armed) =:= Name orelse
        string:lowercase(Armed) =:= hd(string:split(Name, "/")) ++ "/*".

send_notify(Id, N, Name, Params, RequestId, Context) ->
    {{Y, Mo, D}, {H, Mi, S}} = calendar:universal_time(),
    Time = #'TimeNotation'{date = lists:flatten(io_lib:format("~4..0b~2..0b~2..0b", [Y, Mo, D])),
                           time = lists:flatten(io_lib:format("~2..0b~2..0b~2..0b00",
                                                              [H, Mi, S]))},
    Event = #'ObservedEvent'{eventName = Name, eventParList = Params, timeNotation = Time},
    Req = #'NotifyRequest'{terminationID = [term_id(Id)],
                           observedEventsDescriptor =
                               #'ObservedEventsDescriptor'{requestId = RequestId,
                                                           observedEventLst = [Event]}},
    AR = #'ActionRequest'{contextId = Context,
                          commandRequests = [#'CommandRequest'{command = {notifyReq, Req}}]},
    Conn = connection(),
    print([{event, "notify"}, {termination, Id}, {line, N}, {name, Name},
           {request_id, RequestId}, {context, Context}]),
    spawn(fun() ->
                  Ok = case megaco:call(Conn, [AR], []) of
                           {_, {ok, [#'ActionReply'{errorDescriptor = asn1_NOVALUE,
                                                    commandReply = [{notifyReply, _}]}]}} ->
                               true;
                           Other ->
                               print([{event, "error"}, {command, "notify " ++ Name},
                                      {reason, fmt(Other)}]),
                               false
                       end,
                  print([{event, "notify_reply"}, {termination, Id}, {name, Name}, {ok, Ok}])
          end).

%%----------------------------------------------------------------------
%% The MGC's requests
%%----------------------------------------------------------------------

handle_trans_request(_Conn, _Version, Actions) ->
    {discard_ack, [action(A) || A <- Actions]}.

action(#'ActionRequest'{contextId = Ctx0, commandRequests = Commands}) ->
    Known = Ctx0 =:= ?megaco_null_context_id orelse Ctx0 =:= ?megaco_choose_context_id
        orelse ets:member(?TABLE, {context, Ctx0}),
    case Known of
        false ->
            #'ActionReply'{contextId = Ctx0,
                           errorDescriptor = error_descriptor(?megaco_unknown_context_id,
                                                              "Unknown context")};
        true ->
            Ctx = case Ctx0 of
                      ?megaco_choose_context_id -> new_context();
                      _ -> Ctx0
                  end,
            Replies = lists:flatmap(
                        fun(#'CommandRequest'{command = C}) -> command(Ctx, C) end,
                        Commands),
            #'ActionReply'{contextId = Ctx, commandReply = Replies}
    end.

new_context() ->
    C = ets:update_counter(?TABLE, next_context, 1) - 1,
    ets:insert(?TABLE, {{context, C}, []}),
    C.

command(_Ctx, {auditValueRequest, #'AuditRequest'{terminationID = Tid}}) ->
    Id = id_text(Tid),
    Found = Id =:= "root" orelse ets:member(?TABLE, {line, Id})
        orelse ets:member(?TABLE, {rtp, Id}),
    print([{event, "audit"}, {termination, Id}, {found, Found}]),
    Result = case Found of
                 true -> [];
                 false -> [{errorDescriptor, unknown_termination()}]
             end,
    [{auditValueReply, {auditResult, #'AuditResult'{terminationID = Tid,
                                                    terminationAuditResult = Result}}}];
command(Ctx, {addReq, #'AmmRequest'{terminationID = [Tid], descriptors = Ds}}) ->
    case is_choose(Tid) of
        true -> [{addReply, add_rtp(Ctx, Ds)}];
        false -> [{addReply, add_line(Ctx, Tid, Ds)}]
    end;
command(Ctx, {modReq, #'AmmRequest'{terminationID = [Tid], descriptors = Ds}}) ->
    Id = id_text(Tid),
    case {ets:lookup(?TABLE, {line, Id}), ets:lookup(?TABLE, {rtp, Id})} of
        {[{_, Line}], _} ->
            Line1 = apply_descriptors(Line, Ds),
            ets:insert(?TABLE, {{line, Id}, Line1}),
            print([{event, "modify"}, {termination, Id}, {line, maps:get(index, Line)},
                   {context, maps:get(context, Line)}] ++ described(Ds, Line1)),
            [maybe_autoanswer(maps:get(index, Line), Line1)
             || lists:keymember(signalsDescriptor, 1, Ds)],
            [{modReply, #'AmmsReply'{terminationID = [Tid]}}];
        {[], [{_, Rtp}]} ->
            Rtp1 = media(Rtp, Ds),
            ets:insert(?TABLE, {{rtp, Id}, Rtp1}),
            print([{event, "modify"}, {termination, Id}, {context, maps:get(context, Rtp)},
                   {mode, maps:get(mode, Rtp1)}, {remote, maps:get(remote, Rtp1)}]),
            [{modReply, #'AmmsReply'{terminationID = [Tid]}}];
        _ ->
            print([{event, "modify"}, {termination, Id}, {context, Ctx}, {found, false}]),
            [{modReply, #'AmmsReply'{terminationID = [Tid],
                                     terminationAudit = [{errorDescriptor,
                                                          unknown_termination()}]}}]
    end;
command(Ctx, {subtractReq, #'SubtractRequest'{terminationID = [Tid]}}) ->
    Members = case ets:lookup(?TABLE, {context, Ctx}) of
                  [{_, M}] -> M;
                  [] -> []
              end,
    Targets = case id_text(Tid) of
                  "*" -> Members;
                  Id -> [Id || lists:member(Id, Members)]
              end,
    case Targets of
        [] ->
            print([{event, "subtract"}, {termination, id_text(Tid)}, {context, Ctx},
                   {found, false}]),
            [{subtractReply, #'AmmsReply'{terminationID = [Tid],
                                          terminationAudit = [{errorDescriptor,
                                                               unknown_termination()}]}}];
        _ ->
            [{subtractReply, subtract(Ctx, Id)} || Id <- Targets]
    end;
command(_Ctx, {serviceChangeReq, #'ServiceChangeRequest'{terminationID = Tids}}) ->
    print([{event, "service_change"}, {termination, id_text(hd(Tids))}]),
    [{serviceChangeReply,
      #'ServiceChangeReply'{terminationID = Tids,
                            serviceChangeResult = {serviceChangeResParms,
                                                   #'ServiceChangeResParm'{}}}}];
command(_Ctx, {notifyReq, #'NotifyRequest'{terminationID = Tids}}) ->
    [{notifyReply, #'NotifyReply'{terminationID = Tids}}];
command(_Ctx, {auditCapRequest, #'AuditRequest'{terminationID = Tid}}) ->
    [{auditValueReply, Reply}] = command(_Ctx, {auditValueRequest,
                                                #'AuditRequest'{terminationID = Tid}}),
    [{auditCapReply, Reply}];
command(_Ctx, {moveReq, #'AmmRequest'{terminationID = Tids}}) ->
    print([{event, "error"}, {command, "move"}, {reason, "not implemented"}]),
    [{moveReply, #'AmmsReply'{terminationID = Tids,
                              terminationAudit = [{errorDescriptor,
                                                   error_descriptor(?megaco_not_implemented,
                                                                    "Not implemented")}]}}].

add_line(Ctx, Tid, Ds) ->
    Id = id_text(Tid),
    case ets:lookup(?TABLE, {line, Id}) of
        [{_, Line}] ->
            Line1 = apply_descriptors(Line#{context => Ctx}, Ds),
            ets:insert(?TABLE, {{line, Id}, Line1}),
            join_context(Ctx, Id),
            print([{event, "add"}, {termination, Id}, {line, maps:get(index, Line)},
                   {context, Ctx}] ++ described(Ds, Line1)),
            #'AmmsReply'{terminationID = [Tid]};
        [] ->
            print([{event, "add"}, {termination, Id}, {context, Ctx}, {found, false}]),
            #'AmmsReply'{terminationID = [Tid],
                         terminationAudit = [{errorDescriptor, unknown_termination()}]}
    end.

%% A new RTP termination with a UDP port of its own (see rtp_termination/3).
add_rtp(Ctx, Ds) ->
    K = ets:update_counter(?TABLE, next_rtp, 1) - 1,
    Id = case ets:lookup_element(?TABLE, encoding, 2) of
             ber -> binary_id(1, 0, K);
             _ -> "rtp/" ++ integer_to_list(K)
         end,
    Ip = ets:lookup_element(?TABLE, ip, 2),
    %% The line it carries: the line already in the context (Add of the line, then of $).
    LineIndex = case [maps:get(index, line(M)) || M <- members(Ctx),
                                                 ets:member(?TABLE, {line, M})] of
                    [N | _] -> N;
                    [] -> none
                end,
    Owner = spawn(fun() -> rtp_termination(Ip, Id, LineIndex) end),
    Owner ! {port, self()},
    Port = receive {rtp_port, Owner, P} -> P end,
    Rtp = media(#{context => Ctx, port => Port, sink => Owner, mode => "Inactive",
                  remote => null, payload => "0", line => LineIndex}, Ds),
    ets:insert(?TABLE, {{rtp, Id}, Rtp}),
    join_context(Ctx, Id),
    Local = fmt_addr(Ip, Port),
    print([{event, "add"}, {termination, Id}, {context, Ctx}, {local, Local},
           {remote, maps:get(remote, Rtp)}, {mode, maps:get(mode, Rtp)}]),
    {A, B, C, D} = Ip,
    Addr = lists:flatten(io_lib:format("IN IP4 ~b.~b.~b.~b", [A, B, C, D])),
    Sdp = [#'PropertyParm'{name = "v", value = ["0"]},
           #'PropertyParm'{name = "c", value = [Addr]},
           #'PropertyParm'{name = "m",
                           value = ["audio " ++ integer_to_list(Port) ++ " RTP/AVP "
                                    ++ maps:get(payload, Rtp)]}],
    Stream = #'StreamDescriptor'{
                streamID = 1,
                streamParms = #'StreamParms'{
                                 localDescriptor = #'LocalRemoteDescriptor'{propGrps = [Sdp]}}},
    #'AmmsReply'{terminationID = [term_id(Id)],
                 terminationAudit = [{mediaDescriptor,
                                      #'MediaDescriptor'{streams = {multiStream, [Stream]}}}]}.

members(Ctx) ->
    case ets:lookup(?TABLE, {context, Ctx}) of
        [{_, M}] -> M;
        [] -> []
    end.

subtract(Ctx, Id) ->
    Members = ets:lookup_element(?TABLE, {context, Ctx}, 2) -- [Id],
    Deleted = Members =:= [],
    case Deleted of
        true -> ets:delete(?TABLE, {context, Ctx});
        false -> ets:insert(?TABLE, {{context, Ctx}, Members})
    end,
    case ets:lookup(?TABLE, {line, Id}) of
        [{_, Line}] ->
            ets:insert(?TABLE, {{line, Id}, Line#{context => 0}}),
            print([{event, "subtract"}, {termination, Id}, {line, maps:get(index, Line)},
                   {context, Ctx}, {context_deleted, Deleted}]),
            #'AmmsReply'{terminationID = [term_id(Id)]};
        [] ->
            [{_, #{sink := Sink}}] = ets:lookup(?TABLE, {rtp, Id}),
            ets:delete(?TABLE, {rtp, Id}),
            Sink ! {stop, self()},
            {Received, Sent} = receive {rtp_stopped, Sink, R, S} -> {R, S}
                               after 5000 -> {0, 0}
                               end,
            print([{event, "subtract"}, {termination, Id}, {context, Ctx},
                   {rtp_received, Received}, {rtp_sent, Sent}, {context_deleted, Deleted}]),
            Stats = [#'StatisticsParameter'{statName = "rtp/ps",
                                            statValue = [integer_to_list(Sent)]},
                     #'StatisticsParameter'{statName = "rtp/pr",
                                            statValue = [integer_to_list(Received)]}],
            #'AmmsReply'{terminationID = [term_id(Id)],
                         terminationAudit = [{statisticsDescriptor, Stats}]}
    end.

%%----------------------------------------------------------------------
%% RTP: what a line says and hears
%%----------------------------------------------------------------------

%% An RTP termination's process, owner of its UDP port. It counts what arrives and, while its
%% line hears (`hear N ...`, the {hear, N} entry), keeps the G.711 payload, up to ?HEAR_LIMIT
%% bytes. It says PCM (`say N FILE`) as G.711 RTP to the Remote SDP address, 160 samples a
%% packet every 20 ms from the start, sending a packet only while the termination's mode is
%% SendOnly or SendReceive (the others are dropped, as a muted line would). On {stop, From}
%% (Subtract) it ends what it says and hears and reports its counts.
rtp_termination(Ip, Id, Line) ->
    {ok, S} = gen_udp:open(0, [binary, {ip, Ip}, {active, true}]),
    {ok, Port} = inet:port(S),
    receive {port, From} -> From ! {rtp_port, self(), Port} end,
    rtp_loop(#{socket => S, id => Id, line => Line, received => 0, sent => 0,
               heard => no_heard(), say => none}).

rtp_loop(#{socket := S} = St) ->
    receive
        {udp, S, _, _, Packet} ->
            rtp_loop(received(Packet, St));
        {say, Pcm} when map_get(say, St) =:= none ->
            self() ! {tick, 0},
            rtp_loop(St#{say => #{pcm => Pcm, k => 0, packets => 0,
                                  start => erlang:monotonic_time(millisecond),
                                  seq => rand:uniform(1 bsl 16) - 1,
                                  ts => rand:uniform(1 bsl 32) - 1,
                                  ssrc => rand:uniform(1 bsl 32) - 1}});
        {say, _} ->
            print([{event, "error"}, {command, "say"}, {line, maps:get(line, St)},
                   {reason, "already saying"}]),
            rtp_loop(St);
        {tick, K} ->
            rtp_loop(tick(K, St));
        {hear_off, Where} ->
            rtp_loop(heard(Where, St));
        {stop, From} ->
            St1 = say_done(St),
            St2 = case ets:take(?TABLE, {hear, maps:get(line, St)}) of
                      [{_, Where}] -> heard(Where, St1);
                      [] -> St1
                  end,
            ok = gen_udp:close(S),
            From ! {rtp_stopped, self(), maps:get(received, St2), maps:get(sent, St2)}
    end.

no_heard() ->
    #{packets => 0, bytes => 0, kept => 0, chunks => []}.

%% A datagram: counted; its G.711 payload kept while the line hears.
received(Packet, #{received := N, line := Line, heard := H} = St) ->
    St1 = St#{received => N + 1},
    case ets:member(?TABLE, {hear, Line}) andalso rtp_payload(Packet) of
        {ok, PT, Payload} when PT =:= 0; PT =:= 8 ->
            #{packets := P, bytes := B, kept := Kept, chunks := Cs} = H,
            Size = byte_size(Payload),
            H1 = case Kept + Size =< ?HEAR_LIMIT of
                     true -> H#{kept => Kept + Size, chunks => [{PT, Payload} | Cs]};
                     false -> H
                 end,
            St1#{heard => H1#{packets => P + 1, bytes => B + Size}};
        _ ->
            St1
    end.

%% The payload type and payload of an RTP packet (RFC 3550 §5.1), past CSRCs, a header
%% extension and padding.
rtp_payload(<<2:2, Pad:1, X:1, CC:4, _M:1, PT:7, _Seq:16, _Ts:32, _Ssrc:32, Rest/binary>>) ->
    case Rest of
        <<_:CC/binary-unit:32, Ext/binary>> ->
            case {X, Ext} of
                {0, Body} -> unpad(Pad, PT, Body);
                {1, <<_:16, Len:16, _:Len/binary-unit:32, Body/binary>>} -> unpad(Pad, PT, Body);
                _ -> error
            end;
        _ ->
            error
    end;
rtp_payload(_) ->
    error.

unpad(0, PT, Body) ->
    {ok, PT, Body};
unpad(1, PT, Body) when byte_size(Body) > 0 ->
    Count = binary:last(Body),
    case Count =< byte_size(Body) of
        true -> {ok, PT, binary:part(Body, 0, byte_size(Body) - Count)};
        false -> error
    end;
unpad(_, _, _) ->
    error.

%% What the line heard: printed, and written as a WAV file when Where names one.
heard(Where, #{line := Line, heard := H} = St) ->
    #{packets := P, bytes := B, chunks := Cs} = H,
    Pcm = << <<(g711_decode(PT, Payload))/binary>> || {PT, Payload} <- lists:reverse(Cs) >>,
    File = case Where of
               memory -> [];
               Path ->
                   case file:write_file(Path, wav(Pcm)) of
                       ok -> [{file, Path}];
                       {error, Why} ->
                           print([{event, "error"}, {command, "hear"}, {line, Line},
                                  {reason, fmt(Why)}]),
                           []
                   end
           end,
    print([{event, "heard"}, {line, Line}, {packets, P}, {bytes, B},
           {ms, byte_size(Pcm) div 16}] ++ File),
    St#{heard => no_heard()}.

%% One 20 ms packet of what the line says, then the next tick at its time from the start.
tick(K, #{say := #{k := K, pcm := <<>>}} = St) ->
    say_done(St);
tick(K, #{say := #{k := K, pcm := Pcm, start := Start} = Say, socket := S, id := Id,
          sent := Sent} = St) ->
    {Frame, Rest} = case Pcm of
                        <<F:320/binary, R/binary>> -> {F, R};
                        Short -> {<<Short/binary, 0:((320 - byte_size(Short)) * 8)>>, <<>>}
                    end,
    #{seq := Seq, ts := Ts, ssrc := Ssrc, packets := Packets} = Say,
    Say1 = case sending(Id) of
               {ok, Addr, Port, PT} ->
                   Marker = case Packets of 0 -> 1; _ -> 0 end,
                   Header = <<2:2, 0:1, 0:1, 0:4, Marker:1, PT:7, Seq:16, Ts:32, Ssrc:32>>,
                   case gen_udp:send(S, Addr, Port, [Header, g711_encode(PT, Frame)]) of
                       ok -> Say#{seq => (Seq + 1) band 16#ffff, packets => Packets + 1};
                       {error, _} -> Say
                   end;
               no ->
                   Say
           end,
    Sent1 = Sent + maps:get(packets, Say1) - Packets,
    erlang:send_after(Start + (K + 1) * 20, self(), {tick, K + 1}, [{abs, true}]),
    St#{sent => Sent1,
        say => Say1#{k => K + 1, pcm => Rest, ts => (Ts + 160) band 16#ffffffff}};
tick(_, St) ->
    St.

say_done(#{say := none} = St) ->
    St;
say_done(#{say := #{packets := Packets}, line := Line} = St) ->
    print([{event, "say_done"}, {line, Line}, {packets, Packets}]),
    St#{say => none}.

%% Where to send, if the termination's mode allows it: its Remote address and payload type.
sending(Id) ->
    case ets:lookup(?TABLE, {rtp, Id}) of
        [{_, #{mode := Mode, remote := Remote, payload := Payload}}]
          when (Mode =:= "SendOnly" orelse Mode =:= "SendReceive"), is_list(Remote) ->
            [Host, Port] = string:split(Remote, ":", trailing),
            case inet:parse_address(Host) of
                {ok, Addr} ->
                    PT = case Payload of "8" -> 8; _ -> 0 end,
                    {ok, Addr, list_to_integer(Port), PT};
                _ ->
                    no
            end;
        _ ->
            no
    end.

%% 16-bit PCM (little-endian) from a WAV file of 8 kHz mono 16-bit PCM, or from raw G.711
%% µ-law (.ulaw) or A-law (.alaw).
read_audio(Path) ->
    case file:read_file(Path) of
        {ok, Bin} when byte_size(Bin) > ?SAY_LIMIT ->
            {error, "longer than the limit"};
        {ok, Bin} ->
            case string:lowercase(filename:extension(Path)) of
                ".ulaw" -> {ok, g711_decode(0, Bin)};
                ".alaw" -> {ok, g711_decode(8, Bin)};
                _ -> wav_pcm(Bin)
            end;
        {error, Why} ->
            {error, fmt(Why)}
    end.

wav_pcm(<<"RIFF", _:32, "WAVE", Chunks/binary>>) ->
    wav_chunks(Chunks, no_format);
wav_pcm(_) ->
    {error, "not a RIFF WAVE file"}.

wav_chunks(<<"fmt ", Size:32/little, Body:Size/binary, Rest/binary>>, _) ->
    Format = case Body of
                 <<1:16/little, 1:16/little, 8000:32/little, _:48, 16:16/little, _/binary>> ->
                     ok;
                 _ ->
                     {error, "not 8 kHz mono 16-bit PCM"}
             end,
    wav_chunks(skip_pad(Size, Rest), Format);
wav_chunks(<<"data", Size:32/little, Rest/binary>>, ok) ->
    Data = binary:part(Rest, 0, min(Size, byte_size(Rest))),
    {ok, binary:part(Data, 0, byte_size(Data) band (bnot 1))};
wav_chunks(<<"data", _/binary>>, no_format) ->
    {error, "data before fmt"};
wav_chunks(<<_:4/binary, Size:32/little, Body/binary>>, ok = Format)
  when byte_size(Body) >= Size ->
    wav_chunks(skip_pad(Size, binary:part(Body, Size, byte_size(Body) - Size)), Format);
wav_chunks(<<_:4/binary, Size:32/little, Body/binary>>, no_format = Format)
  when byte_size(Body) >= Size ->
    wav_chunks(skip_pad(Size, binary:part(Body, Size, byte_size(Body) - Size)), Format);
wav_chunks(_, {error, _} = E) ->
    E;
wav_chunks(_, _) ->
    {error, "no data chunk"}.

%% Chunks are padded to an even size.
skip_pad(Size, <<_, Rest/binary>>) when Size rem 2 =:= 1 -> Rest;
skip_pad(_, Rest) -> Rest.

%% A WAV file of 8 kHz mono 16-bit PCM.
wav(Pcm) ->
    Size = byte_size(Pcm),
    <<"RIFF", (36 + Size):32/little, "WAVE",
      "fmt ", 16:32/little, 1:16/little, 1:16/little, 8000:32/little, 16000:32/little,
      2:16/little, 16:16/little,
      "data", Size:32/little, Pcm/binary>>.

%% G.711 (ITU-T G.711): payload type 0 is µ-law, 8 is A-law.
g711_encode(0, Pcm) -> << <<(ulaw(X))>> || <<X:16/little-signed>> <= Pcm >>;
g711_encode(8, Pcm) -> << <<(alaw(X))>> || <<X:16/little-signed>> <= Pcm >>.

g711_decode(0, Codes) -> << <<(ulaw_linear(C)):16/little-signed>> || <<C>> <= Codes >>;
g711_decode(8, Codes) -> << <<(alaw_linear(C)):16/little-signed>> || <<C>> <= Codes >>.

%% µ-law: the magnitude, clipped and biased by 132, as a 3-bit segment (the position of its
%% highest bit above bit 7) and the 4 bits below that bit; all bits inverted.
ulaw(X) ->
    Sign = case X < 0 of true -> 16#80; false -> 0 end,
    Biased = min(abs(X), 32635) + 132,
    Seg = highest_bit(Biased) - 7,
    Mantissa = (Biased bsr (Seg + 3)) band 16#0f,
    bnot (Sign bor (Seg bsl 4) bor Mantissa) band 16#ff.

ulaw_linear(Code) ->
    C = bnot Code band 16#ff,
    Seg = (C bsr 4) band 7,
    Magnitude = ((((C band 16#0f) bsl 3) + 132) bsl Seg) - 132,
    case C band 16#80 of 0 -> Magnitude; _ -> -Magnitude end.

%% A-law: on 13 bits, segment 0 and 1 linear, each other doubling; even bits inverted (0x55).
alaw(X) ->
    V = X bsr 3,
    {Mask, M} = case V >= 0 of
                    true -> {16#d5, V};
                    false -> {16#55, -V - 1}
                end,
    Code = case M < 32 of
               true -> M bsr 1;
               false ->
                   Seg = highest_bit(M) - 4,
                   case Seg > 7 of
                       true -> 16#7f;
                       false -> (Seg bsl 4) bor ((M bsr Seg) band 16#0f)
                   end
           end,
    Code bxor Mask.

alaw_linear(Code) ->
    C = Code bxor 16#55,
    Seg = (C band 16#70) bsr 4,
    T = ((C band 16#0f) bsl 4) + 8,
    Magnitude = case Seg of
                    0 -> T;
                    _ -> (T + 16#100) bsl (Seg - 1)
                end,
    case C band 16#80 of 0 -> -Magnitude; _ -> Magnitude end.

%% The index of the highest set bit of a positive integer.
highest_bit(N) -> highest_bit(N, -1).
highest_bit(0, I) -> I;
highest_bit(N, I) -> highest_bit(N bsr 1, I + 1).

join_context(0, _) ->
    ok;
join_context(Ctx, Id) ->
    Members = case ets:lookup(?TABLE, {context, Ctx}) of
                  [{_, M}] -> M;
                  [] -> []
              end,
    ets:insert(?TABLE, {{context, Ctx}, Members ++ [Id]}).

%% A line's Events, Signals and DigitMap descriptors.
apply_descriptors(Line, Ds) ->
    lists:foldl(
      fun({eventsDescriptor, #'EventsDescriptor'{requestID = R, eventList = Es}}, L) ->
              L#{request_id => R, events => [E#'RequestedEvent'.pkgdName || E <- Es]};
         ({signalsDescriptor, Signals}, L) ->
              L#{signals => signal_names(Signals)};
         ({digitMapDescriptor, #'DigitMapDescriptor'{digitMapName = Name}}, L) ->
              L#{digit_map => Name};
         (_, L) ->
              L
      end, Line, Ds).

signal_names(Signals) ->
    lists:flatmap(fun({signal, #'Signal'{signalName = N}}) -> [N];
                     ({seqSigList, #'SeqSigList'{signalList = L}}) ->
                          [S#'Signal'.signalName || S <- L];
                     (_) -> []
                  end, Signals).

%% What a line's descriptors set, for the JSON line.
described(Ds, Line) ->
    lists:flatmap(
      fun({eventsDescriptor, _}) ->
              [{request_id, maps:get(request_id, Line)}, {events, maps:get(events, Line)}];
         ({signalsDescriptor, _}) ->
              [{signals, maps:get(signals, Line)}];
         ({digitMapDescriptor, _}) ->
              [{digit_map, case maps:get(digit_map, Line) of
                               asn1_NOVALUE -> null;
                               N -> N
                           end}];
         (_) ->
              []
      end, Ds).

%% An RTP termination's Media descriptor: mode and Remote address.
media(Rtp, Ds) ->
    Streams = lists:flatmap(
                fun({mediaDescriptor, #'MediaDescriptor'{streams = {multiStream, S}}}) ->
                        [P || #'StreamDescriptor'{streamParms = P} <- S];
                   ({mediaDescriptor, #'MediaDescriptor'{streams = {oneStream, P}}}) ->
                        [P];
                   (_) ->
                        []
                end, Ds),
    lists:foldl(fun stream_parms/2, Rtp, Streams).

stream_parms(#'StreamParms'{localControlDescriptor = LC, localDescriptor = L,
                            remoteDescriptor = R}, Rtp0) ->
    Rtp1 = case LC of
               #'LocalControlDescriptor'{streamMode = M} when M =/= asn1_NOVALUE ->
                   Rtp0#{mode => mode_text(M)};
               _ -> Rtp0
           end,
    Rtp2 = case sdp(L) of
               #{payload := P} -> Rtp1#{payload => P};
               _ -> Rtp1
           end,
    case sdp(R) of
        #{addr := A, port := Port} = Sdp ->
            Rtp3 = Rtp2#{remote => A ++ ":" ++ Port},
            case Sdp of
                #{payload := P2} -> Rtp3#{payload => P2};
                _ -> Rtp3
            end;
        _ -> Rtp2
    end.

mode_text(sendOnly) -> "SendOnly";
mode_text(recvOnly) -> "ReceiveOnly";
mode_text(sendRecv) -> "SendReceive";
mode_text(inactive) -> "Inactive";
mode_text(loopBack) -> "LoopBack";
mode_text(Other) -> atom_to_list(Other).

%% The address, port and first payload type of a session description.
sdp(#'LocalRemoteDescriptor'{propGrps = [Group | _]}) ->
    lists:foldl(
      fun(#'PropertyParm'{name = "c", value = [V | _]}, Acc) ->
              case string:lexemes(V, " ") of
                  [_, _, Addr | _] when Addr =/= "$" -> Acc#{addr => Addr};
                  _ -> Acc
              end;
         (#'PropertyParm'{name = "m", value = [V | _]}, Acc) ->
              case string:lexemes(V, " ") of
                  [_, Port, _, Payload | _] when Port =/= "$" ->
                      Acc#{port => Port, payload => Payload};
                  [_, "$", _, Payload | _] ->
                      Acc#{payload => Payload};
                  _ -> Acc
              end;
         (_, Acc) ->
              Acc
      end, #{}, Group);
sdp(_) ->
    #{}.

line(Id) ->
    ets:lookup_element(?TABLE, {line, Id}, 2).

id_text(#megaco_term_id{id = Levels}) ->
    string:lowercase(string:join([flat(L) || L <- Levels], "/"));
id_text(Other) ->
    fmt(Other).

flat(Level) ->
    [case C of all -> $*; choose -> $$; _ -> C end || C <- Level].

term_id(Id) ->
    #megaco_term_id{contains_wildcards = false, id = string:lexemes(Id, "/")}.

is_choose(#megaco_term_id{contains_wildcards = true, id = Levels}) ->
    lists:last(lists:last(Levels)) =:= $$;
is_choose(_) ->
    false.

unknown_termination() ->
    error_descriptor(?megaco_unknown_termination_id, "Unknown TerminationID").

error_descriptor(Code, Text) ->
    #'ErrorDescriptor'{errorCode = Code, errorText = Text}.

%%----------------------------------------------------------------------
%% Encoding: OTP's encoder for --encoding, named in the encoding config; a message it cannot
%% decode is printed (an error event with its bytes in hex) before megaco answers it.
%%----------------------------------------------------------------------

version_of([{?MODULE, Mod} | C], Bin) -> refused(Bin, Mod:version_of(C, Bin)).
encode_message([{?MODULE, Mod} | C], M) -> Mod:encode_message(C, M).
encode_message([{?MODULE, Mod} | C], V, M) -> Mod:encode_message(C, V, M).
encode_transaction([{?MODULE, Mod} | C], V, T) -> Mod:encode_transaction(C, V, T).
encode_action_requests([{?MODULE, Mod} | C], V, A) -> Mod:encode_action_requests(C, V, A).
encode_action_request([{?MODULE, Mod} | C], V, A) -> Mod:encode_action_request(C, V, A).
encode_action_reply([{?MODULE, Mod} | C], V, A) -> Mod:encode_action_reply(C, V, A).
decode_mini_message([{?MODULE, Mod} | C], V, Bin) -> Mod:decode_mini_message(C, V, Bin).

decode_message([{?MODULE, Mod} | C], Bin) -> refused(Bin, Mod:decode_message(C, Bin)).
decode_message([{?MODULE, Mod} | C], V, Bin) -> refused(Bin, Mod:decode_message(C, V, Bin)).

refused(_Bin, {ok, _} = Ok) ->
    Ok;
refused(Bin, Error) ->
    print([{event, "error"}, {command, "decode"}, {reason, fmt(Error)},
           {bytes, binary:encode_hex(Bin)}]),
    Error.

%%----------------------------------------------------------------------
%% The rest of megaco_user
%%----------------------------------------------------------------------

handle_connect(_Conn, _Version) ->
    ok.

handle_disconnect(Conn, _Version, Reason) ->
    megaco:cancel(Conn, Reason),
    print([{event, "disconnected"}, {reason, fmt(Reason)}]),
    halt(1).

handle_syntax_error(_RecHandle, _Version, ED) ->
    print([{event, "error"}, {command, "syntax"}, {reason, fmt(ED)}]),
    reply.

handle_message_error(_Conn, _Version, ED) ->
    print([{event, "error"}, {command, "message"}, {reason, fmt(ED)}]),
    no_reply.

handle_trans_long_request(_Conn, _Version, _ReqData) ->
    {discard_ack, error_descriptor(?megaco_not_implemented, "Not implemented")}.

handle_trans_reply(_Conn, _Version, _Reply, _Data) ->
    ok.

handle_trans_ack(_Conn, _Version, _Status, _Data) ->
    ok.

handle_unexpected_trans(_Conn, _Version, Trans) ->
    print([{event, "error"}, {command, "unexpected transaction"}, {reason, fmt(Trans)}]),
    ok.

handle_trans_request_abort(_Conn, _Version, _TransId, _Pid) ->
    ok.

%%----------------------------------------------------------------------
%% Output: one JSON object a line
%%----------------------------------------------------------------------

print(Fields) ->
    Body = lists:join(",", [[json_string(atom_to_list(K)), ":", json(V)] || {K, V} <- Fields]),
    io:put_chars(standard_io, ["{", Body, "}\n"]).

json(true) -> "true";
json(false) -> "false";
json(null) -> "null";
json(asn1_NOVALUE) -> "null";
json(N) when is_integer(N) -> integer_to_list(N);
json([]) -> "[]";
json([H | _] = L) when is_list(H) -> ["[", lists:join(",", [json_string(S) || S <- L]), "]"];
json(S) -> json_string(S).

json_string(S) ->
    Chars = unicode:characters_to_list(iolist_to_binary(S)),
    ["\"", [escape(C) || C <- Chars], "\""].

escape($") -> "\\\"";
escape($\\) -> "\\\\";
escape(C) when C < 32 -> io_lib:format("\\u~4.16.0b", [C]);
escape(C) -> C.

fmt(Term) ->
    re:replace(io_lib:format("~tp", [Term]), "\\s+", " ", [global, unicode, {return, list}]).

fmt_addr({A, B, C, D}, Port) ->
    lists:flatten(io_lib:format("~b.~b.~b.~b:~b", [A, B, C, D, Port])).
