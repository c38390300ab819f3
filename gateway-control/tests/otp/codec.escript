#!/usr/bin/env escript
%% Erlang/OTP megaco as an oracle for our MEGACO codecs (tests/otp_text.rs, tests/otp/mod.rs).
%%
%% Run: escript gateway-control/tests/otp/codec.escript
%% Reads one request a line on stdin and answers each with one line on stdout:
%%   recode IN HEX OUT        decode HEX with encoder module IN, encode the record with OUT
%%                            -> "ok HEX" | "error TEXT"
%%   same IN1 HEX1 IN2 HEX2   decode both -> "ok" if the records are equal | "error TEXT"
%%   show IN HEX              decode -> "ok RECORD" (the record on one line) | "error TEXT"
%% IN and OUT are OTP encoder modules (megaco_pretty_text_encoder, megaco_compact_text_encoder,
%% megaco_ber_encoder…), always with the plain configuration [] (no flex scanner) and
%% protocol version 1. HEX is the message, hex encoded. An empty line or end of input stops.

-mode(compile).

main(_) ->
    loop().

loop() ->
    case io:get_line("") of
        eof -> ok;
        {error, _} -> ok;
        "\n" -> ok;
        Line ->
            Answer =
                try
                    handle(string:lexemes(string:trim(Line), " "))
                catch
                    Class:Reason:Stack ->
                        {error, {Class, Reason, Stack}}
                end,
            io:put_chars(answer(Answer)),
            loop()
    end.

handle(["recode", In, Hex, Out]) ->
    maybe_encode(decode(In, Hex), Out);
handle(["same", In1, Hex1, In2, Hex2]) ->
    case {decode(In1, Hex1), decode(In2, Hex2)} of
        {{ok, Same}, {ok, Same}} -> ok;
        {{ok, A}, {ok, B}} -> {error, {records_differ, A, B}};
        {{error, _} = E, _} -> E;
        {_, E} -> E
    end;
handle(["show", In, Hex]) ->
    case decode(In, Hex) of
        {ok, Record} -> {ok, one_line(Record)};
        E -> E
    end;
handle(Other) ->
    {error, {bad_request, Other}}.

decode(Module, Hex) ->
    Bin = binary:decode_hex(list_to_binary(Hex)),
    case (module(Module)):decode_message([], 1, Bin) of
        {ok, Record} -> {ok, Record};
        {error, Reason} -> {error, {decode, Module, without_tokens(Reason)}}
    end.

maybe_encode({ok, Record}, Module) ->
    case (module(Module)):encode_message([], 1, Record) of
        {ok, Bin} -> {ok, binary:encode_hex(iolist_to_binary(Bin))};
        {error, Reason} -> {error, {encode, Module, Reason}}
    end;
maybe_encode(Error, _) ->
    Error.

module("megaco_pretty_text_encoder") -> megaco_pretty_text_encoder;
module("megaco_compact_text_encoder") -> megaco_compact_text_encoder;
module("megaco_ber_encoder") -> megaco_ber_encoder;
module("megaco_per_encoder") -> megaco_per_encoder;
module("megaco_erl_dist_encoder") -> megaco_erl_dist_encoder;
module(Other) -> error({unknown_encoder, Other}).

%% The text decoders' errors carry every token and the whole input; the reason is what tells.
without_tokens(Reason) when is_list(Reason) ->
    [R || R <- Reason, not is_tuple(R) orelse not lists:member(element(1, R), [token, chars])];
without_tokens(Reason) ->
    Reason.

answer(ok) -> "ok\n";
answer({ok, Text}) -> ["ok ", Text, "\n"];
answer({error, Reason}) -> ["error ", one_line(Reason), "\n"].

one_line(Term) ->
    Text = io_lib:format("~tp", [Term]),
    re:replace(Text, "\\s*\\n\\s*", " ", [global, unicode, {return, binary}]).
