"""Self-checks for chapter 01 (背景介绍): memory and compute arithmetic."""
from distlab.present.exercises import Exercise, number, register

register(Exercise(
    id="01.bytes-adam",
    question="Mixed-precision (bf16) training with Adam: how many bytes does each parameter "
             "cost for weights, gradients, master weights and optimizer state together?",
    is_correct=lambda a: a == 16,
    parse=number,
    hint="2 + 2 for bf16 weights and gradients, then fp32 copies: master weights and Adam's "
         "two moments (ZeRO, §3.1)",
))
register(Exercise(
    id="01.flops",
    question="Training FLOPs for a 1B-parameter model on 20B tokens, by the 6·N·D rule? "
             "(for example 3e21)",
    is_correct=lambda a: abs(a / 1.2e20 - 1) < 0.01,
    parse=number,
    hint="6 × parameters × tokens (Kaplan et al. 2020): 6 × 1e9 × 20e9",
))
register(Exercise(
    id="01.devices",
    question="How many 80 GB accelerators are needed just to hold the training state of a "
             "70B-parameter model trained with mixed-precision Adam?",
    is_correct=lambda a: a == 14,
    parse=lambda s: int(number(s)),
    hint="70e9 parameters × 16 bytes = 1,120 GB; divide by 80 GB and round up",
))
