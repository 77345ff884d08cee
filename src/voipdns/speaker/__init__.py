"""Speaker side of personalised enhancement: ECAPA front-end, AAM-softmax training, enrollment augmentation,
embedding cache, UPN q-flag schedules and EER."""
