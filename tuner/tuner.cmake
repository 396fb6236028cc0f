# tuner library (qla_tuner) and qla tune | db
