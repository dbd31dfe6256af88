"""Metadata columns of the IMDb movie table the real posters come with, by kind.

One home for the column lists the metadata preprocessor's defaults, the command line
models and the benchmarks all read.
"""

#: Every number of the IMDb table.
IMDB_NUMERIC = ("duration", "budget", "gross", "title_year", "imdb_score", "num_voted_users",
                "num_critic_for_reviews", "num_user_for_reviews", "facenumber_in_poster",
                "aspect_ratio", "movie_facebook_likes", "director_facebook_likes",
                "cast_total_facebook_likes")
#: Numbers that are counts or money: heavy-tailed, hence read through ``log1p``.
IMDB_LOG = ("budget", "gross", "num_voted_users", "num_critic_for_reviews",
            "num_user_for_reviews", "movie_facebook_likes", "director_facebook_likes",
            "cast_total_facebook_likes")
#: Categories.
IMDB_CATEGORICAL = ("content_rating", "country", "language", "color")
#: ``|``-separated keyword lists.
IMDB_KEYWORDS = ("plot_keywords",)

#: The columns the real collection and ``make_posters(metadata=True)`` share: the
#: defaults of :func:`~skposter.preprocessing.make_metadata_preprocessor`.
COMMON_NUMERIC = ("duration", "budget", "title_year", "imdb_score")
COMMON_CATEGORICAL = ("content_rating", "country")
