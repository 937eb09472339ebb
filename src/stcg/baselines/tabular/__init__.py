"""Table 1 baselines (paper Section 4.2): AutoGluon-default tabular ML and pytorch-frame DL.

Modules:
    protocol        AutoGluon 1.1.1's hold-out fraction and adaptive early stopping
    features        design matrices (current period + land cover, optional lags) from Dense
    base            the shared ``fit(x_train, y_train, x_val, y_val, cat_features) / predict``
    gbdt            LightGBM (Large, default, XT), XGBoost, CatBoost
    sklearn_models  KNeighborsUnif / KNeighborsDist, RandomForestMSE
    mlp             the MLP standing in for NeuralNetFastAI
    frame           TabNet, ExcelFormer, ResNet, FTTransformer (pytorch-frame)
    registry        params.yaml entry -> wrapper
    run             fit on the training years, score the test year (no I/O)
"""
