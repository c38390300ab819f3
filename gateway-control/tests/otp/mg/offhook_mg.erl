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
%% SDP of its own: a UDP port on --ip that counts what arrives; and Subtract (of a termination
%% or *), deleting the context once empty.
%%
%% Commands on stdin, one a line; end of input is quit:
%%   offhook N | onhook N | flash N   Notify al/of, al/on or al/fl on line N (1-based)
%%   digits N 123#                    Notify dd/ce {ds="123#", Meth=FM}
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
%%   {"event":"subtract","termination":"rtp/1","context":1,"rtp_received":0}
%%   {"event":"subtract","termination":"aaln/1","line":1,"context":1,"context_deleted":true}
%%   {"event":"notify","termination":"aaln/1","line":1,"name":"al/of","request_id":1,
%%    "context":0}
%%   {"event":"notify_reply","termination":"aaln/1","name":"al/of","ok":true}
%%   {"event":"not_armed","line":1,"name":"al/of"}
%%   {"event":"error","command":"...","reason":"..."}
%%   {"event":"disconnected"}   (TCP; the MG then exits with status 1)
%%   {"event":"quit"}
%% Contexts are numbered from 1, RTP terminations too. Termination ids are printed as OTP
%% decodes them (lower case).

-module(offhook_mg).

-behaviour(megaco_user).

-export([main/1]).
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
                  {encoding_mod, encoding_mod(Encoding)}, {encoding_config, []}],
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

%% A new RTP termination with a UDP port of its own, which counts what it receives.
add_rtp(Ctx, Ds) ->
    K = ets:update_counter(?TABLE, next_rtp, 1) - 1,
    Id = case ets:lookup_element(?TABLE, encoding, 2) of
             ber -> binary_id(1, 0, K);
             _ -> "rtp/" ++ integer_to_list(K)
         end,
    Ip = ets:lookup_element(?TABLE, ip, 2),
    Owner = spawn(fun() -> rtp_sink(Ip, Id) end),
    Owner ! {port, self()},
    Port = receive {rtp_port, Owner, P} -> P end,
    Rtp = media(#{context => Ctx, port => Port, sink => Owner, mode => "Inactive",
                  remote => null, payload => "0"}, Ds),
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

rtp_sink(Ip, Id) ->
    {ok, S} = gen_udp:open(0, [binary, {ip, Ip}, {active, true}]),
    {ok, Port} = inet:port(S),
    receive {port, From} -> From ! {rtp_port, self(), Port} end,
    rtp_sink(S, Id, 0).

rtp_sink(S, Id, N) ->
    receive
        {udp, S, _, _, _} -> rtp_sink(S, Id, N + 1);
        {count, From} -> From ! {rtp_count, self(), N}, gen_udp:close(S)
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
            Sink ! {count, self()},
            Received = receive {rtp_count, Sink, N} -> N after 1000 -> 0 end,
            print([{event, "subtract"}, {termination, Id}, {context, Ctx},
                   {rtp_received, Received}, {context_deleted, Deleted}]),
            Stats = [#'StatisticsParameter'{statName = "rtp/ps", statValue = ["0"]},
                     #'StatisticsParameter'{statName = "rtp/pr",
                                            statValue = [integer_to_list(Received)]}],
            #'AmmsReply'{terminationID = [term_id(Id)],
                         terminationAudit = [{statisticsDescriptor, Stats}]}
    end.

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
