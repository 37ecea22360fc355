// Boots GraphiQL on the gateway's own page. Adapted from the page bundled with
// Strawberry GraphQL (MIT licence); it lives in a file rather than inline so that
// the page's Content-Security-Policy can allow scripts from 'self' only.
(function () {
  "use strict";

  var WELCOME = [
    "# hrss-gateway GraphiQL (人社一体化登记网关)",
    "#",
    "# Write a query on this side and run it with Ctrl-Enter.",
    "# The Docs panel describes every type and field.",
    "",
    "{",
    "  __typename",
    "}",
    "",
  ].join("\n");

  // The editors' contents are kept in the URL so that a query can be shared as a link.
  var parameters = {};
  window.location.search
    .slice(1)
    .split("&")
    .forEach(function (entry) {
      var eq = entry.indexOf("=");
      if (eq >= 0) {
        parameters[decodeURIComponent(entry.slice(0, eq))] = decodeURIComponent(
          entry.slice(eq + 1),
        );
      }
    });

  function updateURL(data) {
    Object.assign(parameters, data);
    var search = Object.keys(parameters)
      .filter(function (key) {
        return Boolean(parameters[key]);
      })
      .map(function (key) {
        return encodeURIComponent(key) + "=" + encodeURIComponent(parameters[key]);
      })
      .join("&");
    history.replaceState(null, "", "?" + search);
  }

  // The endpoint is the page's own URL: the gateway serves both on /graphql, so the
  // page works unchanged behind any host name or reverse proxy.
  var fetchURL = window.location.href.split("#")[0].split("?")[0];

  // Subscriptions go over WebSocket to the same URL: wss when the page came over https.
  function websocketURL(url) {
    var parsed = new URL(url);
    parsed.protocol = parsed.protocol === "http:" ? "ws:" : "wss:";
    parsed.hash = "";
    return parsed.toString();
  }

  var headers = {};
  var csrfToken = Cookies.get("csrftoken");
  if (csrfToken) {
    headers["x-csrftoken"] = csrfToken;
  }

  var fetcher = GraphiQL.createFetcher({
    url: fetchURL,
    headers: headers,
    subscriptionUrl: websocketURL(fetchURL),
  });

  function GraphiQLWithExplorer() {
    var queryState = React.useState(parameters.q || WELCOME);
    var variablesState = React.useState(parameters.variables);
    var headersState = React.useState(parameters.headers);
    var explorer = React.useMemo(function () {
      return GraphiQLPluginExplorer.explorerPlugin();
    }, []);

    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      plugins: [explorer],
      query: queryState[0],
      variables: variablesState[0],
      headers: headersState[0],
      onEditQuery: function (query) {
        queryState[1](query);
        updateURL({ q: query });
      },
      onEditVariables: function (variables) {
        variablesState[1](variables);
        updateURL({ variables: variables });
      },
      onEditHeaders: function (value) {
        headersState[1](value);
      },
      inputValueDeprecation: true,
      isHeadersEditorEnabled: true,
      // Service-window computers are shared: a bearer token pasted into the headers
      // editor must not outlive the tab in localStorage.
      shouldPersistHeaders: false,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQLWithExplorer),
  );
})();
