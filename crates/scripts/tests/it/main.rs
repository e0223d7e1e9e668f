mod unit42;
