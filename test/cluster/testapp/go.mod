module dingtalk-operator.invalid/testapp

go 1.26
