# Before this spec used `count`, each of the three models and its stages
# were spelled out (init, init2, init3, pretrain, pretrain2, …). A stage's (and a
# model's) seed, and so its results and its cache key, derive from its address; these blocks
# give each instance the address it had then, so the results stay byte for
# byte those of the spelled-out spec and its finished work stays cached.
# A spec written with count from the start needs none of this.

moved {
  from = model.init
  to   = model.init[0]
}

moved {
  from = model.init2
  to   = model.init[1]
}

moved {
  from = model.init3
  to   = model.init[2]
}

moved {
  from = stage.pretrain
  to   = stage.pretrain[0]
}

moved {
  from = stage.pretrain2
  to   = stage.pretrain[1]
}

moved {
  from = stage.pretrain3
  to   = stage.pretrain[2]
}

moved {
  from = stage.eval0
  to   = stage.eval0[0]
}

moved {
  from = stage.eval0_2
  to   = stage.eval0[1]
}

moved {
  from = stage.eval0_3
  to   = stage.eval0[2]
}

# Inside loop "filtered": every round moves.
moved {
  from = stage.labels
  to   = stage.labels[0]
}

moved {
  from = stage.labels2
  to   = stage.labels[1]
}

moved {
  from = stage.labels3
  to   = stage.labels[2]
}

moved {
  from = stage.tune
  to   = stage.tune[0]
}

moved {
  from = stage.tune2
  to   = stage.tune[1]
}

moved {
  from = stage.tune3
  to   = stage.tune[2]
}

moved {
  from = stage.eval
  to   = stage.eval[0]
}

moved {
  from = stage.eval2
  to   = stage.eval[1]
}

moved {
  from = stage.eval3
  to   = stage.eval[2]
}
