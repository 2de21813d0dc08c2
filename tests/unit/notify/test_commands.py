"""Telegram commands: allowed chats only, and a confirmation for the dangerous two."""

from __future__ import annotations

import random

from actors.notify.commands import ChatReply, CommandDesk, Control, Ignore, Query, parse_command

CHAT = 11


def _desk() -> CommandDesk:
    return CommandDesk((CHAT,), confirm_timeout_s=60, rng=random.Random(3))


def _code(reply: ChatReply) -> str:
    return reply.text.split("/confirm ")[1].split()[0]


def test_parsing_takes_the_bot_suffix_and_case_off() -> None:
    assert parse_command("/Pause@EnsembleBot now") == ("pause", ["now"])
    assert parse_command("hello") is None and parse_command("/") is None


def test_a_chat_that_is_not_allowed_is_ignored_whatever_it_says() -> None:
    for text in ("/pause", "/closeall", "/confirm 1234", "hi"):
        assert isinstance(_desk().handle(99, 1, text, 0.0), Ignore)


def test_a_stranger_is_reported_once_however_often_it_writes() -> None:
    desk = _desk()
    reports = [desk.handle(99, n, "/pause", 0.0).report for n in range(3)]
    assert reports == [True, False, False] and desk.handle(98, 4, "/pause", 0.0).report


def test_pause_and_resume_act_at_once_with_an_op_id_from_the_update() -> None:
    desk = _desk()
    assert desk.handle(CHAT, 5, "/pause", 0.0) == Control(CHAT, "pause", "telegram-5")
    assert desk.handle(CHAT, 6, "/resume", 0.0) == Control(CHAT, "resume", "telegram-6")


def test_queries() -> None:
    assert _desk().handle(CHAT, 1, "/status", 0.0) == Query(CHAT, "status")
    assert _desk().handle(CHAT, 1, "/positions", 0.0) == Query(CHAT, "positions")
    assert _desk().handle(CHAT, 1, "/daily", 0.0) == Query(CHAT, "daily")


def test_killswitch_and_closeall_need_the_code_in_time() -> None:
    for command, control in (("/killswitch", "kill-switch"), ("/closeall", "close-all")):
        desk = _desk()
        prompt = desk.handle(CHAT, 1, command, 0.0)
        assert isinstance(prompt, ChatReply) and "/confirm" in prompt.text
        assert desk.handle(CHAT, 2, f"/confirm {_code(prompt)}", 59.0) == Control(
            CHAT, control, "telegram-2")
        assert "Nothing to confirm" in desk.handle(CHAT, 3, f"/confirm {_code(prompt)}",
                                                   59.0).text  # used once


def test_a_wrong_code_a_late_one_or_another_command_does_nothing() -> None:
    desk = _desk()
    prompt = desk.handle(CHAT, 1, "/closeall", 0.0)
    assert "not the code" in desk.handle(CHAT, 2, "/confirm 99999", 1.0).text
    assert "Nothing to confirm" in desk.handle(CHAT, 3, f"/confirm {_code(prompt)}", 1.0).text
    prompt = desk.handle(CHAT, 4, "/killswitch", 0.0)
    assert "expired" in desk.handle(CHAT, 5, f"/confirm {_code(prompt)}", 61.0).text
    prompt = desk.handle(CHAT, 6, "/killswitch", 0.0)
    assert desk.handle(CHAT, 7, "/status", 1.0) == Query(CHAT, "status")
    assert "Nothing to confirm" in desk.handle(CHAT, 8, f"/confirm {_code(prompt)}", 2.0).text


def test_a_confirmation_belongs_to_its_chat() -> None:
    desk = CommandDesk((CHAT, 12), confirm_timeout_s=60, rng=random.Random(3))
    prompt = desk.handle(CHAT, 1, "/killswitch", 0.0)
    assert "Nothing to confirm" in desk.handle(12, 2, f"/confirm {_code(prompt)}", 1.0).text


def test_unknown_commands_and_plain_text_get_the_help() -> None:
    assert "/status" in _desk().handle(CHAT, 1, "/sell everything", 0.0).text
    assert "/status" in _desk().handle(CHAT, 1, "what now?", 0.0).text
