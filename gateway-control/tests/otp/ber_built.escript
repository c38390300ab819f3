#!/usr/bin/env escript
%% Messages built by Erlang/OTP's megaco as Erlang terms (not read from text: OTP's text
%% scanner lower-cases names, and its BER name resolver then misses `Meth`), encoded with
%% `megaco_ber_encoder`, version 1, the default configuration [] (term ids in the [8,8,8]
%% form: levels of binary digits). For tests/otp_ber.rs.
%%
%% Run: escript gateway-control/tests/otp/ber_built.escript
%% Prints one line per message: "NAME HEX" (NAME has no spaces), or "NAME error REASON".
%% The records of megaco_message_v1.hrl are written as plain tuples (the .hrl files are not
%% installed with Debian's erlang-megaco).

-mode(compile).

main(_) ->
    lists:foreach(fun({Name, Msg}) -> print(Name, Msg) end, messages()),
    ok.

print(Name, Msg) ->
    case megaco_ber_encoder:encode_message([], 1, Msg) of
        {ok, Bin} ->
            io:format("~s ~s~n", [Name, binary:encode_hex(iolist_to_binary(Bin))]);
        {error, Reason} ->
            io:format("~s error ~0p~n", [Name, Reason])
    end.

mg() -> {ip4Address, {'IP4Address', [127, 0, 0, 1], 2945}}.
mgc() -> {ip4Address, {'IP4Address', [127, 0, 0, 1], 2944}}.

message(Mid, Body) ->
    {'MegacoMessage', asn1_NOVALUE, {'Message', 1, Mid, Body}}.

request(Id, Context, Commands) ->
    {transactions,
     [{transactionRequest,
       {'TransactionRequest', Id,
        [{'ActionRequest', Context, asn1_NOVALUE, asn1_NOVALUE,
          [{'CommandRequest', C, asn1_NOVALUE, asn1_NOVALUE} || C <- Commands]}]}}]}.

reply(Id, Context, Replies) ->
    {transactions,
     [{transactionReply,
       {'TransactionReply', Id, asn1_NOVALUE,
        {actionReplies,
         [{'ActionReply', Context, asn1_NOVALUE, asn1_NOVALUE, Replies}]}}}]}.

line(N) -> {megaco_term_id, false, ["00000000", "00000000", N]}.

event_parm(Name, Value) -> {'EventParameter', Name, [Value], asn1_NOVALUE}.

messages() ->
    [{"notify_dd_ce_meth",
      message(mg(),
              request(10, 0,
                      [{notifyReq,
                        {'NotifyRequest', [line("00000001")],
                         {'ObservedEventsDescriptor', 2224,
                          [{'ObservedEvent', "dd/ce", asn1_NOVALUE,
                            [event_parm("ds", "916135551212"),
                             event_parm("Meth", "UM")],
                            {'TimeNotation', "20261205", "13000000"}}]},
                         asn1_NOVALUE}}]))},
     {"subtract_reply_statistics",
      message(mg(),
              reply(11, 7,
                    [{subtractReply,
                      {'AmmsReply', [{megaco_term_id, false, ["00000001", "00000000", "00000010"]}],
                       [{statisticsDescriptor,
                         [{'StatisticsParameter', "nt/os", ["1200"]},
                          {'StatisticsParameter', "nt/or", ["1180"]},
                          {'StatisticsParameter', "rtp/ps", ["200"]},
                          {'StatisticsParameter', "rtp/pl", ["0"]},
                          {'StatisticsParameter', "nt/dur", asn1_NOVALUE}]}]}}]))},
     {"modify_ring_and_dial_tone",
      message(mgc(),
              request(12, 0,
                      [{modReq,
                        {'AmmRequest', [line("00000010")],
                         [{signalsDescriptor,
                           [{signal,
                             {'Signal', "al/ri", asn1_NOVALUE, asn1_NOVALUE, asn1_NOVALUE,
                              asn1_NOVALUE, asn1_NOVALUE,
                              [{'SigParameter', "cad", ["500", "200"],
                                {sublist, true}}]}},
                            {signal,
                             {'Signal', "cg/dt", asn1_NOVALUE, timeOut, 5000,
                              [onTimeOut, otherReason], true, []}}]},
                          {eventsDescriptor,
                           {'EventsDescriptor', 2225,
                            [{'RequestedEvent', "al/of", asn1_NOVALUE,
                              {'RequestedActions', true, asn1_NOVALUE, asn1_NOVALUE,
                               asn1_NOVALUE},
                              [event_parm("strict", "exact")]},
                             {'RequestedEvent', "dd/ce", asn1_NOVALUE,
                              {'RequestedActions', asn1_NOVALUE,
                               {digitMapValue,
                                {'DigitMapValue', 4, 2, asn1_NOVALUE, "(0|00|[1-7]xxx|8xxxxxxx)"}},
                               asn1_NOVALUE, asn1_NOVALUE},
                              [event_parm("Meth", "FM")]}]}}]}}]))}].
