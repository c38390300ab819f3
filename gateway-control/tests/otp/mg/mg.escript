#!/usr/bin/env escript
%% Runs offhook_mg.erl (beside this file), a test MG on Erlang/OTP's megaco: compiles it in
%% memory and calls offhook_mg:main/1 with the arguments. See offhook_mg.erl for the options,
%% the stdin commands and the JSON lines it prints.
%%
%%   escript gateway-control/tests/otp/mg/mg.escript --mgc 127.0.0.1:2944 --encoding compact

main(Args) ->
    Source = filename:join(filename:dirname(escript:script_name()), "offhook_mg.erl"),
    case compile:file(Source, [binary, return_errors, report_warnings]) of
        {ok, Module, Beam} ->
            {module, Module} = code:load_binary(Module, Source, Beam),
            Module:main(Args);
        {error, Errors, _Warnings} ->
            io:format(standard_error, "~s does not compile: ~p~n", [Source, Errors]),
            halt(2)
    end.
