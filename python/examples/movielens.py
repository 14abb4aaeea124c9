"""MovieLens 100K with funk, in a few lines.

    python examples/movielens.py ml-100k/u.data

u.data holds one rating per line: user<TAB>item<TAB>stars<TAB>timestamp.
The same thing in Surprise, for comparison:

    from surprise import SVD, Dataset, Reader, accuracy
    from surprise.model_selection import train_test_split
    data = Dataset.load_from_file("ml-100k/u.data", reader=Reader("ml-100k"))
    trainset, testset = train_test_split(data, test_size=0.2, random_state=1)
    algo = SVD(n_factors=32, n_epochs=20)
    algo.fit(trainset)
    accuracy.rmse(algo.test(testset))
    algo.predict("196", "242").est

funk reads the file with NumPy (or pandas), holds out the same kind of
random fifth, and trains with early stopping on a validation slice of the
train ratings; training is deterministic (seed=1 by default) and resumable
(pass checkpoint_dir=...).
"""

import sys

import numpy as np

import funk

path = sys.argv[1] if len(sys.argv) > 1 else "ml-100k/u.data"
users, items, stars = np.loadtxt(path, usecols=(0, 1, 2), dtype=np.int64, unpack=True)

model = funk.train((users, items, stars), test_fraction=0.2, rating_range=(1, 5), factors=32)
print(model)
print("test", model.evaluate())                      # RMSE and MAE on the held-out fifth
print("user 196, item 242:", model.predict(196, 242))
print("top 10 for user 196:", model.recommend(196, 10))
print("items like 50:", model.similar_items(50, 5))
