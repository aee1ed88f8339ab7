"""The same simulated loop, knowing nothing of wbrun: it only prints key=value lines.

    wbrun -- python examples/train_print.py    # each printed line becomes a history step
"""
import math
import random
import time

learning_rate, epochs = 0.02, 10

random.seed(0)
offset = random.random() / 5
for epoch in range(epochs):
    acc = 1 - 2 ** -(epoch + 2) - random.random() / (epoch + 2) - offset
    loss = 2 ** -(epoch + 2) + random.random() / (epoch + 2) + offset
    loss *= 1 + math.log1p(learning_rate)
    print(f"epoch={epoch}, accuracy={acc:.2f}, loss={loss:.1f}", flush=True)
    time.sleep(0.05)
